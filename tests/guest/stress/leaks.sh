# kmemleak (debug kernel): after everything ran and unloaded, no leak whose
# allocation trace passes through rrelay or its test and sample modules.
. /opt/lib/tap.sh
K=/sys/kernel/debug/kmemleak
plan 1
if [ ! -e $K ]; then
    ok "# SKIP no kmemleak in this kernel"
    done_testing
fi
grep -q '^rrelay ' /proc/modules && rmmod rrelay
echo scan >$K
sleep 2
echo scan >$K
awk '/^unreferenced object/ { obj = $0; keep = 0 } /rrelay|relay_test|relay_sample|rrelay_bench/ { keep = 1 } /^$/ && keep { print obj; keep = 0 }' $K >/tmp/leaks
check "kmemleak finds no leak from rrelay or its clients ($(grep -c unreferenced $K) objects in all)" test ! -s /tmp/leaks
sed 's/^/# /' /tmp/leaks
done_testing
