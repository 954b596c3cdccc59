# The benchmark, in the guest: the write-path module, then the reader
# benchmark. Prints lines for scripts/bench_report.py. Arguments: ROUNDS
# BATCH_BYTES SETUP_MIB READ_SECS [ACCEL]; ACCEL "tcg-icount" (a boot with
# deterministic instruction counts) runs the write path only.
rounds=$1 batch=$2 setup=$3 secs=$4 accel=${5:-tcg}
R=/opt/bin/rrelay
B=/sys/kernel/debug/rrelay_bench
set -e
echo "info kernel $(uname -r)"
echo "info accel $accel"
grep -q '^rrelay ' /proc/modules || insmod /opt/modules/rrelay.ko
insmod /opt/modules/rrelay_bench.ko rounds=$rounds batch_bytes=$batch setup_mib=$setup
trap 'rmmod rrelay_bench' EXIT
cat $B/results

# prefill IMPL MODE [null]: drain a prefilled 16 MiB global buffer,
# producer stopped (the reader's rate alone), into a tmpfs file, or with
# "null" as one stream into /dev/null (the reader's cost without the
# file system's); one line:
# prefill <impl> <mode>[-null] <bytes received> <seconds> <set-up seconds>
# (the set-up, opening and mapping the file, comes before the drain's
# seconds and is reported apart).
prefill() {
    echo "fill $1 16" >$B/ctl
    base=rfill
    [ "$1" = relay ] && base=kfill
    if [ "$3" = null ]; then
        $R record -d $B -b $base -o - -m $2 --drain --json >/dev/null 2>/tmp/prefill.json
    else
        $R record -d $B -b $base -o /tmp/prefill -m $2 --drain --json >/tmp/prefill.json
    fi
    bytes=$(sed -n 's/^  "bytes": \([0-9]*\),/\1/p' /tmp/prefill.json)
    seconds=$(sed -n 's/^  "seconds": \([0-9.]*\),/\1/p' /tmp/prefill.json)
    setup_s=$(sed -n 's/^  "setup_seconds": \([0-9.e-]*\),/\1/p' /tmp/prefill.json)
    echo "prefill $1 $2${3:+-$3} $bytes $seconds $setup_s"
    echo close >$B/ctl
    rm -rf /tmp/prefill
}
# loop IMPL CHUNK: the bare read() loop (tests/progs/read_loop.c) on a
# prefilled buffer, CHUNK bytes a call, nothing written anywhere: the
# reader's own cost without the tool's. One line, as prefill's:
# prefill <impl> loop-<CHUNK in KiB>k <bytes received> <seconds> 0
loop() {
    echo "fill $1 16" >$B/ctl
    file=$B/rfill0
    [ "$1" = relay ] && file=$B/kfill0
    set -- "$1" "$2" $(/opt/bin/read_loop $file $2)
    echo "prefill $1 loop-$(($2 / 1024))k $3 $5 0"
    echo close >$B/ctl
}
# Up to three rounds (ROUNDS, at most 3), the modes interleaved: a
# drain's count moves by a few percent with the page cache the runs before
# it left (the report takes the median).
round=0
while [ $round -lt $rounds ] && [ $round -lt 3 ]; do
    for to in "" null; do
        prefill relay read $to
        prefill rrelay read $to
        prefill rrelay mmap $to
        prefill rrelay splice $to
    done
    for chunk in 262144 65536; do
        loop relay $chunk
        loop rrelay $chunk
    done
    round=$((round + 1))
done
[ "$accel" = tcg ] || exit 0

# drain CHANNEL MODE RATE [SKIP]: produce for $secs s and record it (with
# SKIP, the producers leave that CPU to the reader, which runs there); one
# line: drain <impl> <mode> <rate> <bytes received> <seconds> <bytes written>
drain() {
    (echo "produce $1 $secs $3 $4" >$B/ctl) &
    prod=$!
    base=rbench
    [ "$1" = relay ] && base=kbench
    pin=
    [ -n "$4" ] && pin="taskset -c $4"
    $pin $R record -d $B -b $base -o /tmp/drain -m $2 --wait 30 --json >/tmp/drain.json
    wait $prod
    bytes=$(sed -n 's/^  "bytes": \([0-9]*\),/\1/p' /tmp/drain.json)
    seconds=$(sed -n 's/^  "seconds": \([0-9.]*\),/\1/p' /tmp/drain.json)
    echo "drain $1 $2 $3 $bytes $seconds $(cut -d' ' -f1 $B/produced)"
    rm -rf /tmp/drain
}
drain rrelay read 0
drain rrelay mmap 0
drain rrelay splice 0
drain relay read 0
# No-overwrite without loss: the producers on every CPU but CPU 0, where
# the reader runs alone, first flat out (the splice drain rate the reader
# keeps up beside them), then at fractions of that rate (the rate parameter
# is bytes/s per producing CPU).
ncpus=$(grep -c ^processor /proc/cpuinfo)
sep=$(drain rrelay splice 0 0)
echo "info lossless_base $sep"
for pct in 50 80 100; do
    rate=$(echo "$sep" | awk -v p=$pct -v n=$ncpus '{ printf "%d", $5 / $6 * p / 100 / (n - 1) }')
    echo "lossless $pct $(drain rrelay splice $rate 0)"
done
