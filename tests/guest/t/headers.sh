# Sub-buffer headers (RRELAY_SUBBUF_HEADERS) under the heaviest overwrite:
# the Rust sample writes flat out from every context into 2 sub-buffers of
# 4 KiB per CPU, so the writer laps the reader all the time. Each reader
# mode must deliver whole sub-buffers only: every header where the
# previous one's data size says (no torn framing, no corrupt record), and
# what the headers report lost and dropped is the kernel's count. A read()
# too small for the next whole sub-buffer is refused (EINVAL).
. /opt/lib/tap.sh
R=/opt/bin/rrelay
S=/sys/kernel/debug/rrelay_sample
plan 9
grep -q '^rrelay ' /proc/modules || insmod /opt/modules/rrelay.ko

for mode in splice read mmap; do
    insmod /opt/modules/rust_relay_sample.ko record_size=64 rate=0 overwrite=1 subbuf_size=4096 \
        n_subbufs=2 headers=1
    rm -rf /tmp/hd-$mode
    $R record -d $S -b sample -o /tmp/hd-$mode -m $mode >/tmp/hd-$mode.sum 2>&1 &
    rec=$!
    echo start >$S/control
    sleep 1
    echo stop >$S/control
    kill -INT $rec
    wait $rec
    check "$mode: the recorder exits cleanly" test $? = 0
    set -- $($R stat sample | awk '$1 == "sample" { d += $8 + $9; l += $11 } END { print d + 0, l + 0 }')
    check "$mode: whole sub-buffers only, every record intact, and the headers report the kernel's loss ($2 sub-buffers lost, $1 records dropped)" \
        sh -c "$R decode /tmp/hd-$mode --lost-subbufs $2 --dropped-records $1 --limit 0 >/tmp/hd-$mode.dec 2>&1"
    grep -E 'corrupt|^/tmp' /tmp/hd-$mode.dec | sed 's/^/# /'
    grep -v '^ok' /tmp/hd-$mode.dec | grep 'rrelay:' | sed 's/^/# /'
    rmmod rust_relay_sample
done

insmod /opt/modules/rust_relay_sample.ko record_size=64 rate=0 subbuf_size=4096 n_subbufs=4 headers=1
echo start >$S/control
sleep 1
echo stop >$S/control
check "a read() smaller than a sub-buffer is refused: EINVAL" \
    sh -c "dd if=$S/sample0 of=/dev/null bs=100 count=1 2>&1 | grep -q 'Invalid argument'"
check "one that holds it gets whole sub-buffers, each starting with its header" \
    sh -c "dd if=$S/sample0 of=/tmp/hd.one bs=4096 count=1 2>/dev/null && head -c 4 /tmp/hd.one | grep -q RRH1"
check "the sample and rrelay unload" sh -c "rmmod rust_relay_sample && rmmod rrelay"
done_testing
