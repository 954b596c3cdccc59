# The sample producer (samples/rust_relay_sample.rs) recorded with
# `rrelay record` in every mode and verified with `rrelay decode`: every
# record written in every context on every CPU arrives intact; overwrite
# mode with a slow reader accounts for every record; SIGINT loses nothing
# already written; the kernel's own relay records in read mode. Then the
# blktrace-like C sample (samples/c_relay_sample.c, on rrelay_compat.h).
#
# Accounting is exact and per stream: the producers' counts files say, per
# (CPU, context), how many records were written and how many rrelay refused;
# `rrelay decode --exact` demands received + dropped == written in every
# stream, and `--lost-records N` demands that what is neither received nor
# dropped is exactly N, the kernel's lost sub-buffers times the records a
# sub-buffer holds. decode's exit status is checked wherever it runs.
. /opt/lib/tap.sh
R=/opt/bin/rrelay
S=/sys/kernel/debug/rrelay_sample
plan 29
grep -q '^rrelay ' /proc/modules || insmod /opt/modules/rrelay.ko

# decode_ok DIR COUNTS: no corruption, duplicate or reordering; in every one
# of the 12 streams records arrived, and received + dropped == written
# (--exact; the gaps decode calls `missing` are then exactly the drops).
decode_ok() {
    $R decode "$1" --expect "$2" --exact --limit 0 >/tmp/decode.txt 2>&1 &&
        awk 'NR > 2 && ($3 == 0 || $8 != 0) { bad = 1 } NR > 2 { n++ } END { exit bad || n != 12 }' /tmp/decode.txt ||
        { cat /tmp/decode.txt; return 1; }
}

# stat_sum CHANNEL COLUMN: a column of `rrelay stat` added over the buffers
# (9 dropped, 10 overwritten, 11 lost).
stat_sum() {
    $R stat "$1" | awk -v c="$2" '$1 == "'"$1"'" { n += $c; seen = 1 } END { if (!seen) exit 1; print n }'
}

# counts_dropped COUNTS: the drops the producer saw, over every stream.
counts_dropped() {
    awk '{ d += $4 } END { print d + 0 }' "$1"
}

for mode in read mmap splice; do
    insmod /opt/modules/rust_relay_sample.ko rate=500
    $R record -d $S -b sample -o /tmp/rec-$mode -m $mode --stats sample >/tmp/sum-$mode 2>&1 &
    rec=$!
    echo start >$S/control
    sleep 1
    echo stop >$S/control
    cat $S/counts >/tmp/counts-$mode
    kill -INT $rec
    check "$mode: record exits 0 on SIGINT" wait $rec
    check "$mode: every record of 4 CPUs x 3 contexts arrived intact" decode_ok /tmp/rec-$mode /tmp/counts-$mode
    sed 's/^/# /' /tmp/decode.txt | head -n 4
    rmmod rust_relay_sample
done
check "the summary names the mode and the kernel's counts" grep -q 'kernel counted: 0 writes dropped' /tmp/sum-splice

# One global buffer written from every CPU and context at once, as fast as
# they can (the Rust API serializes them): every record intact, and per
# stream received + dropped == written.
insmod /opt/modules/rust_relay_sample.ko rate=0 global=1
$R record -d $S -b sample -o /tmp/rec-g -m splice >/tmp/sum-g 2>&1 &
rec=$!
echo start >$S/control
sleep 1
echo stop >$S/control
cat $S/counts >/tmp/counts-g
kill -INT $rec
check "global, 12 writers at once: record exits 0 on SIGINT" wait $rec
check "global, 12 writers at once: every record intact, per stream exact" decode_ok /tmp/rec-g /tmp/counts-g
sed 's/^/# /' /tmp/decode.txt | head -n 1
rmmod rust_relay_sample

# Overwrite, and a reader that reads nothing until the end. 48-byte records
# in 4096-byte sub-buffers: each full sub-buffer holds 85 (and 16 bytes of
# padding), so the kernel's lost sub-buffers say how many records were lost.
insmod /opt/modules/rust_relay_sample.ko rate=2000 overwrite=1 subbuf_size=4096 n_subbufs=4 record_size=48
echo start >$S/control
sleep 1
echo stop >$S/control
cat $S/counts >/tmp/counts-ow
check "overwrite: a slow reader records what is left" sh -c "$R record -d $S -b sample -o /tmp/rec-ow -m read --drain >/dev/null"
lost=$(stat_sum sample 11)
check "overwrite: the kernel reports the sub-buffers the reader lost ($lost)" test "${lost:-0}" -gt 0
check "overwrite: intact; per stream received + lost + dropped == written; lost == $lost x 85 in all" \
    $R decode /tmp/rec-ow --expect /tmp/counts-ow --lost-records $((${lost:-0} * 85)) --limit 0
$R decode /tmp/rec-ow --expect /tmp/counts-ow --limit 0 2>&1 | sed 's/^/# /' | head -n 4
check "overwrite: the producer saw no drop" test "$(counts_dropped /tmp/counts-ow)" = 0
rmmod rust_relay_sample

# SIGINT while the producer still writes: what was recorded has no gaps.
insmod /opt/modules/rust_relay_sample.ko rate=500
echo start >$S/control
$R record -d $S -b sample -o /tmp/rec-int >/dev/null 2>&1 &
rec=$!
sleep 1
kill -INT $rec
check "SIGINT mid-run: record exits 0" wait $rec
echo stop >$S/control
check "SIGINT mid-run: decode finds records, nothing corrupt, duplicated or reordered" \
    sh -c "$R decode /tmp/rec-int --limit 0 >/tmp/decode.txt 2>&1"
check "SIGINT mid-run: every stream has records, without gaps" \
    awk 'NR > 2 && ($3 == 0 || $4 != 0) { bad = 1 } NR > 2 { n++ } END { exit bad || n != 12 }' /tmp/decode.txt
rmmod rust_relay_sample

# The producer unloads (its channel closes) before the recorder stops: the
# summary keeps the kernel's counts as last seen, overwritten included.
insmod /opt/modules/rust_relay_sample.ko
$R record -d $S -b sample -o /tmp/rec-gone >/tmp/sum-gone 2>&1 &
rec=$!
echo start >$S/control
sleep 1.5
echo stop >$S/control
rmmod rust_relay_sample
sleep 1.2
kill -INT $rec
wait $rec
check "a channel closed before the stop: the summary keeps the kernel's last counts" \
    grep -q '^kernel counted: [0-9]* writes dropped, [0-9]* sub-buffers overwritten, [0-9]* sub-buffers lost by readers (as last seen' /tmp/sum-gone
grep '^kernel' /tmp/sum-gone | sed 's/^/# /'

# The kernel's own relay, through read().
insmod /opt/modules/relay_test_client.ko
taskset -c 2 sh -c 'echo "write 100 5" > /sys/kernel/debug/relay_test_client/ctl'
echo flush >/sys/kernel/debug/relay_test_client/ctl
check "the kernel's relay records with --mode read" \
    sh -c "$R record -d /sys/kernel/debug/relay_test_client -b buf -o /tmp/rec-k -m read --duration 0.3 | grep -q 'not available'"
check "... all 500 bytes" test "$(cat /tmp/rec-k/buf* | wc -c)" = 500
check_fails "mmap mode refuses a non-rrelay file" \
    $R record -d /sys/kernel/debug/relay_test_client -b buf -o /tmp/rec-k2 -m mmap --duration 0.1
check "... naming the reason" \
    sh -c "$R record -d /sys/kernel/debug/relay_test_client -b buf -o /tmp/rec-k3 -m mmap --duration 0.1 2>&1 | grep -q 'not an rrelay buffer file'"
rmmod relay_test_client

# An output path that is a file, with the producer loaded (so nothing else
# can be the reason).
insmod /opt/modules/rust_relay_sample.ko
check "record into a path that is a file fails, saying why" \
    sh -c "! $R record -d $S -b sample -o /etc/passwd --drain >/tmp/passwd.out 2>&1 && grep -q '^rrelay: /etc/passwd: exists and is not a directory' /tmp/passwd.out"
rmmod rust_relay_sample

# The C sample: reserve under local_irq_save, per-CPU, no-overwrite.
C=/sys/kernel/debug/c_relay_sample
insmod /opt/modules/c_relay_sample.ko
$R record -d $C -b trace -o /tmp/rec-c >/dev/null 2>&1 &
rec=$!
echo start >$C/control
sleep 1
echo stop >$C/control
cat $C/counts >/tmp/counts-c
kill -INT $rec
check "C sample: record exits 0 on SIGINT" wait $rec
check "C sample: every record of 4 CPUs x 3 contexts arrived intact" decode_ok /tmp/rec-c /tmp/counts-c
check "C sample: its dropped view (relay_stats) says 0" test "$(cat $C/dropped)" = 0
rmmod c_relay_sample

# Too small a buffer and no reader: drops, each one counted.
insmod /opt/modules/c_relay_sample.ko subbuf_size=1024 n_subbufs=2
echo start >$C/control
sleep 1
echo stop >$C/control
cat $C/counts >/tmp/counts-c2
$R record -d $C -b trace -o /tmp/rec-c2 -m read --drain >/dev/null
dropped=$(stat_sum trace 9)
seen=$(counts_dropped /tmp/counts-c2)
check "C sample, full buffers: the kernel dropped records ($dropped)" test "${dropped:-0}" -gt 0
check "... exactly the ones the producer saw refused ($seen)" test "$seen" = "$dropped"
check "... and per stream received + dropped == written, nothing corrupt" decode_ok /tmp/rec-c2 /tmp/counts-c2
check "... and the dropped view (relay's full count) covers them" test "$(cat $C/dropped)" -ge "$dropped"
rmmod c_relay_sample
done_testing
