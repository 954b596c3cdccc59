# rrelay.ko loads, runs its KUnit suites, and unloads cleanly.
. /opt/lib/tap.sh
plan 5
grep -q '^rrelay ' /proc/modules && rmmod rrelay
check "insmod rrelay.ko" insmod /opt/modules/rrelay.ko
check "rrelay is listed in /proc/modules" grep -q '^rrelay ' /proc/modules
check "KUnit suites of rrelay ran and passed" sh -c 'dmesg | grep -q "# rrelay_" && ! dmesg | grep -q "not ok"'
check "rmmod rrelay" rmmod rrelay
check_fails "rrelay is gone from /proc/modules" grep -q '^rrelay ' /proc/modules
done_testing
