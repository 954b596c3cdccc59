#!/bin/sh
# Runs in the VM as /opt/run.sh. Arguments name the tests to run (default:
# every tests/guest/t/*.sh, every bin/test_* program and the kselftests of
# kselftest/ through run_kselftest.sh; the failures in
# inject/ run only when named, by the runner's self-tests; those in stress/
# when named or listed in EXTRA_TESTS; SKIP_TESTS leaves tests out of the
# default list); each prints TAP
# under a "# rrelay-test: NAME" line that check.sh counts.
cd /opt || exit 1
tests="$*"
if [ -z "$tests" ]; then
    for f in t/*.sh; do
        case " $SKIP_TESTS " in *" $(basename "$f" .sh) "*) continue ;; esac
        tests="$tests $(basename "$f" .sh)"
    done
    for f in bin/test_*; do [ -x "$f" ] && tests="$tests $(basename "$f")"; done
    [ -x kselftest/run_kselftest.sh ] && tests="$tests kselftest"
    # EXTRA_TESTS (stress, leaks) run last, after everything else.
    tests="$tests $EXTRA_TESTS"
fi
status=0
for t in $tests; do
    # The kselftests name their own sections, one per program.
    [ "$t" = kselftest ] || echo "# rrelay-test: $t"
    t0=$(cut -d' ' -f1 /proc/uptime)
    if [ -f "t/$t.sh" ]; then
        sh "t/$t.sh" || status=1
    elif [ -f "inject/$t.sh" ]; then
        sh "inject/$t.sh" || status=1
    elif [ -f "stress/$t.sh" ]; then
        sh "stress/$t.sh" $STRESS_SECONDS || status=1
    elif [ "$t" = kselftest ]; then
        # run_kselftest.sh nests each program's TAP under "# ": its results
        # are the harness's own lines, one per test (and variant), under a
        # section per program; its diagnostics (what a failed check saw,
        # not the RUN and OK lines) stay as comments.
        # The runner logs to /dev/stdout, which the initramfs lacks; it
        # opens it again, appending, so the file is appended to throughout.
        [ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
        : >/tmp/kselftest.out
        sh kselftest/run_kselftest.sh >>/tmp/kselftest.out 2>&1 || status=1
        awk '/^# selftests: / { print "# rrelay-test: kselftest-" $NF; next }
             /^# (not )?ok [0-9]+ / || /^# 1\.\.[0-9]+$/ { sub(/^# /, ""); print; next }
             /^# # / && !/^# # +(RUN|OK) / { sub(/^# /, ""); print }
             /^(not )?ok [0-9]+ selftests: / { print "# run_kselftest: " $0 }' /tmp/kselftest.out
    elif [ -x "bin/$t" ]; then
        "bin/$t" || status=1
    else
        echo "1..1"; echo "not ok 1 no such test: $t"; status=1
    fi
    # How long it took (a TAP comment: counted nowhere, read by whoever
    # makes the suite faster).
    awk -v t0="$t0" -v t="$t" '{ printf "# %s took %.1f s\n", t, $1 - t0 }' /proc/uptime
done
exit $status
