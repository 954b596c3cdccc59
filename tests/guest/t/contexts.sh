# Writers in process, softirq, hardirq and NMI context at once
# (tests/modules/rrelay_stress.c), with remote flushes from hardirq, on
# per-CPU and global channels (no client lock), in both modes, drained by
# readers in every mode (mmap by the sub-buffer protocol, in overwrite mode
# too). Every record is verified (checksum, per-stream
# sequence), and per stream received + dropped + lost == written exactly:
# in no-overwrite mode nothing is lost; in overwrite mode the records
# neither received nor dropped are the kernel's lost sub-buffers times the
# 64 records (64 bytes, 4096-byte sub-buffers) each held. That count needs
# full sub-buffers, so the overwrite runs have no remote flushes (a flushed
# sub-buffer holds fewer records, and the kernel counts lost sub-buffers,
# not records).
#
# Two more runs open the channel with sub-buffer headers
# (RRELAY_SUBBUF_HEADERS): the records are framed by them (63 to a
# sub-buffer), and what the headers report, read from the data alone,
# must be the kernel's counts: the sub-buffer numbers never received are
# the lost sub-buffers, and the last headers' drop counts the dropped
# records.
. /opt/lib/tap.sh
R=/opt/bin/rrelay
D=/sys/kernel/debug/rrelay_stress
secs=${CONTEXTS_SECONDS:-3}
plan 33
grep -q '^rrelay ' /proc/modules || insmod /opt/modules/rrelay.ko
ncpu=$(grep -c ^processor /proc/cpuinfo)

# run NAME GLOBAL OVERWRITE MODE [HEADERS]
run() {
    name=$1 global=$2 ow=$3 mode=$4 headers=${5:-0}
    rm -rf /tmp/cx-$name
    flush_us=2000
    [ "$ow" = 1 ] && flush_us=0
    insmod /opt/modules/rrelay_stress.ko global=$global overwrite=$ow subbuf_size=4096 n_subbufs=4 \
        flush_us=$flush_us headers=$headers
    $R record -d $D -b stress -o /tmp/cx-$name -m $mode --wait 10 >/tmp/cx-$name.sum 2>&1 &
    rec=$!
    echo start >$D/control
    sleep "$secs"
    echo stop >$D/control
    cat $D/counts >/tmp/cx-$name.counts
    nmis=$(awk '$1 == "nmis" { print $2 }' $D/info)
    flushes=$(awk '$1 == "flushes" { print $2 }' $D/info)
    kill -INT $rec
    wait $rec
    recst=$?
    # The reader's last skips are counted by now.
    set -- $($R stat stress | awk '$1 == "stress" { d += $9; l += $11 } END { print d + 0, l + 0 }')
    kdropped=$1 lost=$2
    rmmod rrelay_stress
    seen=$(awk '{ d += $4 } END { print d + 0 }' /tmp/cx-$name.counts)
    check "$name: the recorder exits cleanly (status $recst)" test $recst = 0
    check "$name: $nmis NMIs, $flushes remote flushes from hardirq" \
        sh -c "test '$nmis' -gt 0 && { test '$flushes' -gt 0 || test $flush_us = 0; }"
    if [ "$ow" = 1 ]; then
        check "$name: every record intact, in order; received + dropped + lost == written ($lost sub-buffers lost)" \
            sh -c "$R decode /tmp/cx-$name --expect /tmp/cx-$name.counts --lost-records $((lost * (64 - headers))) --limit 0 >/tmp/cx-$name.dec 2>&1"
    else
        check "$name: every record intact, in order; received + dropped == written" \
            sh -c "$R decode /tmp/cx-$name --expect /tmp/cx-$name.counts --exact --limit 0 >/tmp/cx-$name.dec 2>&1"
    fi
    if [ "$headers" = 1 ]; then
        check "$name: the sub-buffer headers report the kernel's loss ($lost sub-buffers, $kdropped records dropped)" \
            sh -c "$R decode /tmp/cx-$name --lost-subbufs $lost --dropped-records $kdropped --limit 0 >/tmp/cx-$name.hdr 2>&1"
        sed -n '/^sub-buffer headers:/,$p' /tmp/cx-$name.hdr | head -n 12 | sed 's/^/# /'
    fi
    sed 's/^/# /' /tmp/cx-$name.dec | tail -n 1
    check "$name: the kernel dropped what the writers saw refused ($kdropped == $seen)" test "$kdropped" = "$seen"
    check "$name: records flowed from all 4 contexts of all $ncpu CPUs" \
        awk -v want=$((ncpu * 4)) 'NR > 2 && $1 ~ /^[0-9]+$/ { n++; if ($3 == 0) bad = 1 } END { exit bad || n != want }' /tmp/cx-$name.dec
    awk 'NR > 2 && $1 ~ /^[0-9]+$/ { printf "# %s: cpu %s %-7s written %s received %s dropped %s lost %s\n", n, $1, $2, $5, $3, $7, $8 }' \
        n=$name /tmp/cx-$name.dec
}

run percpu 0 0 splice
run global 0 0 mmap
run percpu-overwrite 0 1 read
run global-overwrite 1 1 mmap
run headers-overwrite 0 1 splice 1
run headers-global 1 0 read 1
check "rrelay unloads" rmmod rrelay
done_testing
