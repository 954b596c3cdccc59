# The sample producer (samples/rust_relay_sample.rs) recorded with
# `rrelay record` in every mode and verified with `rrelay decode`: every
# record written in every context on every CPU arrives intact; overwrite
# mode with a slow reader accounts for every record; SIGINT loses nothing
# already written; the kernel's own relay records in read mode. Then the
# blktrace-like C sample (samples/c_relay_sample.c, on rrelay_compat.h).
. /opt/lib/tap.sh
R=/opt/bin/rrelay
S=/sys/kernel/debug/rrelay_sample
plan 21
grep -q '^rrelay ' /proc/modules || insmod /opt/modules/rrelay.ko

# decode_ok DIR COUNTS: no corruption, every stream complete and non-empty.
decode_ok() {
    $R decode "$1" --expect "$2" --limit 0 >/tmp/decode.txt 2>&1 &&
        awk 'NR > 2 && ($3 == 0 || $4 != 0 || $6 != 0) { bad = 1 } NR > 2 { n++ } END { exit bad || n != 12 }' /tmp/decode.txt ||
        { cat /tmp/decode.txt; return 1; }
}

for mode in read mmap splice; do
    insmod /opt/modules/rust_relay_sample.ko rate=500
    $R record -d $S -b sample -o /tmp/rec-$mode -m $mode --stats sample >/tmp/sum-$mode 2>&1 &
    rec=$!
    echo start >$S/control
    sleep 2
    echo stop >$S/control
    cat $S/counts >/tmp/counts-$mode
    kill -INT $rec
    check "$mode: record exits 0 on SIGINT" wait $rec
    check "$mode: every record of 4 CPUs x 3 contexts arrived intact" decode_ok /tmp/rec-$mode /tmp/counts-$mode
    sed 's/^/# /' /tmp/decode.txt | head -n 4
    rmmod rust_relay_sample
done
check "the summary names the mode and the kernel's counts" grep -q 'kernel counted: 0 writes dropped' /tmp/sum-splice

# Overwrite, and a reader that reads nothing until the end.
insmod /opt/modules/rust_relay_sample.ko rate=2000 overwrite=1 subbuf_size=4096 n_subbufs=4
echo start >$S/control
sleep 2
echo stop >$S/control
cat $S/counts >/tmp/counts-ow
check "overwrite: a slow reader records what is left" sh -c "$R record -d $S -b sample -o /tmp/rec-ow -m read --duration 0 >/dev/null"
$R decode /tmp/rec-ow --expect /tmp/counts-ow --limit 0 >/tmp/decode.txt 2>&1
check "overwrite: intact, and received + missing == written for every stream" \
    awk 'NR > 2 && ($3 == 0 || $4 != $6) { bad = 1 } NR == 1 && $3 != "0" { bad = 1 } END { exit bad }' /tmp/decode.txt
sed 's/^/# /' /tmp/decode.txt | head -n 4
check "overwrite: the kernel reports the sub-buffers the reader lost" \
    sh -c "$R stat sample | awk '\$1 == \"sample\" && \$11 > 0 { ok = 1 } END { exit !ok }'"
rmmod rust_relay_sample

# SIGINT while the producer still writes: what was recorded has no gaps.
insmod /opt/modules/rust_relay_sample.ko rate=500
echo start >$S/control
$R record -d $S -b sample -o /tmp/rec-int >/dev/null 2>&1 &
rec=$!
sleep 2
kill -INT $rec
check "SIGINT mid-run: record exits 0" wait $rec
echo stop >$S/control
$R decode /tmp/rec-int --limit 0 >/tmp/decode.txt 2>&1
check "SIGINT mid-run: everything recorded is intact, without gaps" \
    awk 'NR > 2 && ($3 == 0 || $4 != 0) { bad = 1 } NR == 1 && $3 != "0" { bad = 1 } END { exit bad }' /tmp/decode.txt
rmmod rust_relay_sample

# The kernel's own relay, through read().
insmod /opt/modules/relay_test_client.ko
taskset -c 2 sh -c 'echo "write 100 5" > /sys/kernel/debug/relay_test_client/ctl'
echo flush >/sys/kernel/debug/relay_test_client/ctl
check "the kernel's relay records with --mode read" \
    sh -c "$R record -d /sys/kernel/debug/relay_test_client -b buf -o /tmp/rec-k -m read --duration 0.3 | grep -q 'not available'"
check "... all 500 bytes" test "$(cat /tmp/rec-k/buf* | wc -c)" = 500
check_fails "mmap mode refuses a non-rrelay file, naming it" \
    sh -c "$R record -d /sys/kernel/debug/relay_test_client -b buf -o /tmp/rec-k2 -m mmap --duration 0.1 2>&1 | grep -v 'not an rrelay buffer file'"
rmmod relay_test_client
check_fails "record into a path that is a file fails" $R record -d $S -b sample -o /etc/passwd

# The C sample: reserve under local_irq_save, per-CPU, no-overwrite.
C=/sys/kernel/debug/c_relay_sample
insmod /opt/modules/c_relay_sample.ko
$R record -d $C -b trace -o /tmp/rec-c >/dev/null 2>&1 &
rec=$!
echo start >$C/control
sleep 2
echo stop >$C/control
cat $C/counts >/tmp/counts-c
kill -INT $rec
wait $rec
check "C sample: every record of 4 CPUs x 3 contexts arrived intact" decode_ok /tmp/rec-c /tmp/counts-c
check "C sample: its dropped view (relay_stats) says 0" test "$(cat $C/dropped)" = 0
rmmod c_relay_sample

# Too small a buffer and no reader: drops, each one counted.
insmod /opt/modules/c_relay_sample.ko subbuf_size=1024 n_subbufs=2
echo start >$C/control
sleep 1
echo stop >$C/control
cat $C/counts >/tmp/counts-c2
$R record -d $C -b trace -o /tmp/rec-c2 -m read --duration 0 >/dev/null
$R decode /tmp/rec-c2 --expect /tmp/counts-c2 --limit 0 >/tmp/decode.txt 2>&1
unseen=$(awk 'NR > 2 { u += $6 } END { print u }' /tmp/decode.txt)
dropped=$($R stat trace | awk '$1 == "trace" { d += $9 } END { print d }')
check "C sample, full buffers: received + dropped == written ($unseen unseen, $dropped dropped)" \
    test "$unseen" = "$dropped" -a "$dropped" -gt 0
check "... and the dropped view (relay's full count) covers them" test "$(cat $C/dropped)" -ge "$dropped"
check "... with nothing corrupt" awk 'NR == 1 && $3 != "0" { bad = 1 } END { exit bad }' /tmp/decode.txt
rmmod c_relay_sample
done_testing
