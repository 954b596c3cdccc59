#!/usr/bin/env bash
# Host self-test of the result bookkeeping (scripts/results.sh): a missing
# test, a crashed one, a wrong count and an unlisted one must each fail the
# expected-test check; a complete run must pass it. Prints TAP.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/rrelay-harness.XXXXXX")
trap 'rm -rf "$work"' EXIT
n=0 fail=0
tap() { n=$((n + 1)); if [[ $1 == ok ]]; then echo "ok $n $2"; else echo "not ok $n $2"; fail=1; fi; }

cat >"$work/expected.txt" <<'LIST'
# KIND NAME COUNT KERNELS
tap   alpha   2  base,debug
tap   beta    -  base
kunit suite_a 2  base,debug
tap   gamma   1  debug
LIST

# A guest run: TAP on the command's output, KTAP in the kernel log.
tap_out() {
    printf '# rrelay-test: alpha\n1..2\nok 1 a\nok 2 b\n'
    [[ $1 == crash ]] && { printf '# rrelay-test: beta\n1..3\nok 1 x\n'; return; }
    [[ $1 == missing ]] || printf '# rrelay-test: beta\n1..1\nok 1 x\n'
    [[ $1 == unlisted ]] && printf '# rrelay-test: delta\n1..1\nok 1 y\n'
    [[ $1 == count ]] && printf '# rrelay-test: alpha\n1..3\nok 1 a\nok 2 b\nok 3 c\n'
    return 0
}
kernel_log() { # a KTAP document, as a module's suites print it
    local cases=2
    [[ $1 == kunit ]] && cases=1
    printf '[    1.000000] KTAP version 1\n[    1.000000] 1..1\n'
    printf '[    1.000000]     KTAP version 1\n[    1.000000]     # Subtest: suite_a\n'
    printf '[    1.000000]     1..%d\n[    1.000001]     ok 1 case_one\n' $cases
    ((cases == 2)) && printf '[    1.000002]     ok 2 case_two\n'
    printf '[    1.000003] # suite_a: pass:%d fail:0 skip:0 total:%d\n' $cases $cases
    printf '[    1.000003] ok 1 suite_a\n'
    return 0
}

# run CASE: the summary of counting that run and checking it (in a subshell).
run() {
    (
        . "$RRELAY_ROOT/scripts/results.sh"
        tap_out "$1" >"$work/$1.tap"
        kernel_log "$1" >"$work/$1.log"
        count_kunit "$work/$1.log"
        count_tap "$work/$1.tap"
        check_expected "$work/expected.txt" base
        summary
    ) >"$work/$1.out" 2>&1
}

echo "# rrelay-test: runner-harness"
echo "1..8"
if run complete; then tap ok "a complete run passes the expected-test check"; else tap fail "a complete run passes"; sed 's/^/# /' "$work/complete.out"; fi
for c in missing:"did not run" crash:"planned 3 tests, ran 1" count:"gave 5 results" unlisted:"does not list it" kunit:"kunit test suite_a gave 1 results"; do
    name=${c%%:*} want=${c#*:}
    if ! run "$name" && grep -q "^FAILED .*$want" "$work/$name.out"; then
        tap ok "a $name test fails the run ($want)"
    else
        tap fail "a $name test fails the run ($want)"; sed 's/^/# /' "$work/$name.out"
    fi
done

# A failed host test: counted, and what it printed (its panic) shown.
printf '%s\n' 'test a::good ... ok' 'test a::bad ... FAILED' '' 'failures:' '' \
    '---- a::bad stdout ----' "thread 'a::bad' panicked at src/x.rs:3:5:" \
    'left: 0 right: 4' '' 'failures:' '    a::bad' '' \
    'test result: FAILED. 1 passed; 1 failed' >"$work/cargo.log"
(. "$RRELAY_ROOT/scripts/results.sh"; count_cargo "$work/cargo.log"; summary) >"$work/cargo.out" 2>&1
if grep -q '^FAILED host: a::bad$' "$work/cargo.out" && grep -q "panicked at src/x.rs:3:5" "$work/cargo.out" &&
    grep -q '^1 passed, 1 failed$' "$work/cargo.out"; then
    tap ok "a failed host test fails the run and shows its panic"
else
    tap fail "a failed host test fails the run and shows its panic"; sed 's/^/# /' "$work/cargo.out"
fi

# A failed TAP test: counted, and the diagnostics before it shown (not a
# passing test's).
printf '%s\n' '# rrelay-test: delta' '1..2' '# passing note' 'ok 1 fine' \
    '# unexpected: read on fd 3: Invalid argument' 'not ok 2 broken' >"$work/tap.log"
(. "$RRELAY_ROOT/scripts/results.sh"; count_tap "$work/tap.log"; summary) >"$work/tap.out" 2>&1
if grep -q '^FAILED delta: broken$' "$work/tap.out" && grep -q "^    # unexpected: read on fd 3" "$work/tap.out" &&
    ! grep -q "passing note" "$work/tap.out" && grep -q '^1 passed, 1 failed$' "$work/tap.out"; then
    tap ok "a failed TAP test fails the run and shows its diagnostics"
else
    tap fail "a failed TAP test fails the run and shows its diagnostics"; sed 's/^/# /' "$work/tap.out"
fi
exit $fail
