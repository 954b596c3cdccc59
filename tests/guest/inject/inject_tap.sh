# A TAP test that fails: check.sh must count it as failed.
. /opt/lib/tap.sh
plan 2
check "this one passes" true
check "this one fails on purpose" false
done_testing
