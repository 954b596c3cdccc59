#!/bin/sh
# Debian's blktrace and blkparse, unmodified, on /dev/nullb0 (null_blk):
# run by scripts/check-intree.sh on the intree kernel (blktrace on rrelay,
# built in) and on the base kernel (blktrace on the kernel's relay). TAP.
#
# Usage: sh blktrace.sh relay|rrelay [N]
#   N direct 4 KiB writes, then N direct 4 KiB reads (default 3000), traced
#   with `blktrace -d /dev/nullb0`, parsed with blkparse: the queued,
#   dispatched and completed reads and writes must be N each, with no event
#   dropped. A "# counts:" line gives the figures for the host to compare
#   across kernels, "# blkparse:" lines blkparse's summary. Then an overload:
#   a 2 x 4 KiB buffer per CPU (-b 4 -n 2) under four parallel writers must
#   drop events, and on rrelay the dropped count blktrace prints (from
#   debugfs block/nullb0/dropped, relay_stats(RELAY_STATS_BUF_FULL)) must
#   equal rrelay's own counts in its stats file (the full and dropped
#   columns, summed over CPUs).
#
# The binaries and their libraries are in the guest's /usr and /lib
# (scripts/blktrace-guest.sh).
kind=${1:?usage: blktrace.sh relay|rrelay [N]}
n=${2:-3000}
m=4000 # direct writes by each of the overload's four writers
dev=/dev/nullb0
dbg=/sys/kernel/debug
BT=/usr/sbin/blktrace
BP=/usr/bin/blkparse
work=/tmp/bt
mkdir -p "$work"

t=0
ok() { t=$((t + 1)); echo "ok $t - $*"; }
notok() { t=$((t + 1)); echo "not ok $t - $*"; }
check() { # check DESC CMD...
    d=$1; shift
    if "$@"; then ok "$d"; else notok "$d"; fi
}

echo "1..13"

# start_trace NAME [blktrace options]: blktrace in the background. Its
# per-CPU files appear in debugfs at BLKTRACESETUP; BLKTRACESTART follows
# once its threads run, which nothing shows: a second more.
start_trace() {
    name=$1; shift
    $BT -d $dev -D "$work" -o "$name" "$@" >"$work/$name.out" 2>&1 &
    btpid=$!
    i=0
    while [ ! -e $dbg/block/nullb0/trace0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    [ -e $dbg/block/nullb0/trace0 ] && sleep 1
}
stop_trace() {
    kill -INT "$btpid"
    wait "$btpid"
}
# The channel's rrelay stats file (rrelay kernel only): exactly one.
rrelay_stats() {
    set -- $dbg/rrelay/trace*/stats
    [ $# -eq 1 ] && [ -f "$1" ] && echo "$1"
}

# 1. The trace of a known I/O load.
check "blktrace started on $dev" start_trace io
if [ "$kind" = rrelay ]; then
    check "the trace channel is rrelay's (debugfs rrelay/trace*/stats)" eval 'rrelay_stats >/dev/null'
else
    check "the trace channel is the kernel's relay (no rrelay in debugfs)" test ! -e $dbg/rrelay
fi
dd if=/dev/zero of=$dev bs=4096 count="$n" oflag=direct 2>"$work/dd.err" &&
    dd if=$dev of=/dev/null bs=4096 count="$n" iflag=direct 2>>"$work/dd.err"
check "dd: $n direct 4 KiB writes, then $n direct 4 KiB reads" test $? -eq 0
stop_trace
check "blktrace exited 0" test $? -eq 0
sed 's/^/# blktrace: /' "$work/io.out"
drop=$(sed -n 's/.*Total:.*(dropped \([0-9]*\)).*/\1/p' "$work/io.out")
check "blktrace reports no dropped events (dropped ${drop:-?})" test "${drop:-x}" = 0

# blkparse: each event's action and RWBS for the counts, then its summary.
$BP -D "$work" -i io -f '%a %d\n' -q >"$work/events" 2>"$work/bp.err"
bp=$?
$BP -D "$work" -i io 2>/dev/null | sed -n '/^CPU[0-9]* (io):$/,$p' >"$work/summary"
check "blkparse exited 0" test $bp -eq 0
count() { awk -v a="$1" -v rw="$2" '$1 == a && index($2, rw) { c++ } END { print c + 0 }' "$work/events"; }
qr=$(count Q R) qw=$(count Q W) dr=$(count D R) dw=$(count D W) cr=$(count C R) cw=$(count C W)
events=$(wc -l <"$work/events")
# The I/O counts, compared across kernels; the number of event lines is not:
# it was 24003 or 24004 from run to run on either kernel.
echo "# counts: queued_reads=$qr queued_writes=$qw dispatched_reads=$dr dispatched_writes=$dw completed_reads=$cr completed_writes=$cw"
echo "# events: $events"
sed -n '/^Total (io):$/,/^$/p; /^Throughput/,$p' "$work/summary" | sed 's/^/# blkparse: /'
grep -q '^Total (io):$' "$work/summary" || sed 's/^/# blkparse: /' "$work/summary"
check "queued reads = $n (blkparse: $qr)" test "$qr" = "$n"
check "queued writes = $n (blkparse: $qw)" test "$qw" = "$n"
check "dispatched and completed reads and writes = $n (blkparse: $dr $dw $cr $cw)" \
    test "$dr $dw $cr $cw" = "$n $n $n $n"

# 2. Overload: tiny buffers, four direct writers at once.
rm -f "$work"/io.blktrace.*
check "blktrace -b 4 -n 2 started" start_trace small -b 4 -n 2
pids=
for w in 0 1 2 3; do
    dd if=/dev/zero of=$dev bs=4096 count=$m seek=$((w * m)) oflag=direct 2>/dev/null &
    pids="$pids $!"
done
# shellcheck disable=SC2086 # a list of PIDs
wait $pids
# The reader drains what is left; no write comes after the writers.
sleep 1
if [ "$kind" = rrelay ] && s=$(rrelay_stats); then
    cp "$s" "$work/rstats"
else
    : >"$work/rstats"
fi
kdrop=$(cat $dbg/block/nullb0/dropped 2>/dev/null)
stop_trace
sed 's/^/# blktrace: /' "$work/small.out"
drop=$(sed -n 's/.*Total:.*(dropped \([0-9]*\)).*/\1/p' "$work/small.out")
check "overload: blktrace reports dropped events (${drop:-?}; debugfs dropped said ${kdrop:-?})" \
    test "${drop:-0}" -gt 0
if [ "$kind" = rrelay ]; then
    sed 's/^/# rrelay stats: /' "$work/rstats"
    full=$(awk '$1 ~ /^[0-9]+$/ { s += $6 } END { print s + 0 }' "$work/rstats")
    rdrop=$(awk '$1 ~ /^[0-9]+$/ { s += $8 } END { print s + 0 }' "$work/rstats")
    check "overload: blktrace's dropped count = rrelay's count of dropped records (${drop:-?} = $rdrop; full $full)" \
        test "${drop:-x}" = "$rdrop"
else
    check "overload: blktrace's dropped count = debugfs dropped before teardown (${drop:-?} = ${kdrop:-?})" \
        test "${drop:-x}" = "${kdrop:-y}"
fi
$BP -D "$work" -i small -f '%a %d\n' -q >"$work/events" 2>/dev/null
qw=$(count Q W)
check "overload: blkparse reads the trace, with events missing (queued writes $qw < $((4 * m)))" \
    test "$qw" -lt $((4 * m))
rm -rf "$work"
[ "$t" -eq 13 ]
