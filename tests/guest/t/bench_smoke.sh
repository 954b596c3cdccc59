# A short run of the benchmark (make bench), so it never rots: every
# measurement is made and printed. No timing is judged here.
. /opt/lib/tap.sh
plan 7
sh /opt/bench/bench.sh 1 16384 1 1 >/tmp/bench.out 2>/tmp/bench.err
status=$?
check "the benchmark script completes" test $status = 0
[ $status = 0 ] || { sed 's/^/# /' /tmp/bench.err; grep -v '^write' /tmp/bench.out | sed 's/^/# /'; }
ncpus=$(grep -c ^processor /proc/cpuinfo)
# 7 implementations x 5 sizes, and the ftrace ring buffer's 2 at the 4
# sizes its one-page events take.
check "write path: rrelay, relay, ftrace and memcpy at every size, on one CPU and on all $ncpus" \
    test "$(grep -c '^write ' /tmp/bench.out)" = $((43 + 43 * ncpus))
check "the ftrace ring buffer is measured" test "$(grep -c '^write 1 ftrace_' /tmp/bench.out)" = 8
check "set-up cost: open and close of rrelay and relay" test "$(grep -c '^setup ' /tmp/bench.out)" = 4
check "drain: read, mmap, splice on rrelay and read on relay, all with data" \
    sh -c "test \$(awk '\$1 == \"drain\" && \$5 > 0' /tmp/bench.out | wc -l) = 4"
check "prefilled drains: rrelay by read, mmap and splice, relay by read, into tmpfs and into /dev/null; bare read() loops of both in 256 and 64 KiB; 16 MiB each" \
    test "$(awk '$1 == "prefill" && $4 == 16777216' /tmp/bench.out | wc -l)" = 12
check "no-overwrite sweep at 50, 80 and 100% of the splice rate, the reader alone on CPU 0" \
    sh -c "test \$(grep -c '^lossless ' /tmp/bench.out) = 3 && grep -q '^info lossless_base drain rrelay splice 0 [1-9]' /tmp/bench.out"
done_testing
