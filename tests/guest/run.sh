#!/bin/sh
# Runs in the VM as /opt/run.sh. Arguments name the tests to run (default:
# every tests/guest/t/*.sh and every bin/test_* program; the failures in
# inject/ run only when named, by the runner's self-tests; those in stress/
# when named or listed in EXTRA_TESTS); each prints TAP
# under a "# rrelay-test: NAME" line that check.sh counts.
cd /opt || exit 1
tests="$*"
if [ -z "$tests" ]; then
    for f in t/*.sh; do tests="$tests $(basename "$f" .sh)"; done
    for f in bin/test_*; do [ -x "$f" ] && tests="$tests $(basename "$f")"; done
    # EXTRA_TESTS (stress, leaks) run last, after everything else.
    tests="$tests $EXTRA_TESTS"
fi
status=0
for t in $tests; do
    echo "# rrelay-test: $t"
    if [ -f "t/$t.sh" ]; then
        sh "t/$t.sh" || status=1
    elif [ -f "inject/$t.sh" ]; then
        sh "inject/$t.sh" || status=1
    elif [ -f "stress/$t.sh" ]; then
        sh "stress/$t.sh" $STRESS_SECONDS || status=1
    elif [ -x "bin/$t" ]; then
        "bin/$t" || status=1
    else
        echo "1..1"; echo "not ok 1 no such test: $t"; status=1
    fi
done
exit $status
