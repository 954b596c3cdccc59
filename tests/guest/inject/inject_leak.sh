# A leaked allocation from one of our modules: the kmemleak check
# (stress/leaks.sh) must find it, while the module is loaded and after it is
# unloaded.
. /opt/lib/tap.sh
plan 1
check "load rrelay_inject with leak=1" insmod /opt/modules/rrelay_inject.ko leak=1
echo "# rrelay-test: leaks"
sh /opt/stress/leaks.sh || TAP_FAILED=1
exit $TAP_FAILED
