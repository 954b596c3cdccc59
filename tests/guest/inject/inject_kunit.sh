# A KUnit case that fails: check.sh must count it as failed.
. /opt/lib/tap.sh
plan 1
check "load rrelay_inject with kunit_fail=1" insmod /opt/modules/rrelay_inject.ko kunit_fail=1
done_testing
