# The demo, in the guest: the Rust sample producer writes from every context
# on every CPU; `rrelay record` drains it; `rrelay stat` and `rrelay decode`
# show what happened. Arguments: SIZE RATE MODE OVERWRITE GLOBAL DURATION
# [SUBBUF_SIZE N_SUBBUFS HEADERS].
set -e
size=$1 rate=$2 mode=$3 overwrite=$4 global=$5 duration=$6 subbuf=${7:-16384} nsub=${8:-16} headers=${9:-0}
S=/sys/kernel/debug/rrelay_sample
R=/opt/bin/rrelay
say() { printf '\n== %s\n' "$*"; }

if [ "$rate" = 0 ]; then asked="as fast as it can"; else asked="$rate/s"; fi
say "load rrelay.ko and the sample producer: $size-byte records, $asked from each of"
echo "   3 writers per CPU (a kthread, a softirq timer, a hardirq timer), overwrite=$overwrite, global=$global,"
echo "   $nsub sub-buffers of $subbuf bytes per buffer, sub-buffer headers=$headers"
insmod /opt/modules/rrelay.ko
insmod /opt/modules/rust_relay_sample.ko record_size=$size rate=$rate overwrite=$overwrite \
    global=$global subbuf_size=$subbuf n_subbufs=$nsub headers=$headers
ls $S

say "record for $duration s: rrelay record -d $S -b sample -o /tmp/demo -m $mode"
$R record -d $S -b sample -o /tmp/demo -m $mode >/tmp/summary 2>/dev/null &
rec=$!
echo start >$S/control
sleep "$duration"
echo stop >$S/control
kill -INT $rec
wait $rec
cat /tmp/summary
# The kthread writers' rate against the one asked for.
got=$(awk -v d="$duration" '$2 == "process" { w += $3; n++ } END { if (n) printf "%d", w / n / d }' $S/counts)
if [ "$rate" != 0 ] && [ "${got:-0}" -lt $((rate * 9 / 10)) ]; then
    echo "note: each process-context writer managed $got records/s of the $rate/s asked"
    echo "      (the VM's CPUs are emulated: lower RATE, or RATE=0 for as fast as it can)"
fi

say "rrelay stat: the kernel's view of the channel"
$R stat sample

say "rrelay decode: the first records, merged across CPUs by timestamp"
$R decode /tmp/demo --limit 12 | head -n 12

say "rrelay decode --expect counts: every record each writer wrote, accounted for"
cat $S/counts >/tmp/counts
$R decode /tmp/demo --expect /tmp/counts --limit 0
echo "(received: intact records recorded; missing: gaps in a stream's numbers,"
echo " as overwrite mode makes; unseen: written but not recorded, i.e. dropped"
echo " when full, which rrelay stat counts in its dropped column)"

rmmod rust_relay_sample
rmmod rrelay
