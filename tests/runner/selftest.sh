#!/usr/bin/env bash
# The runner's own tests: each injected failure must make the guest suite
# fail, for the reason injected. Prints TAP.
#
# Usage: tests/runner/selftest.sh KERNEL GUESTDIR
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
kernel=${1:-base} guest=${2:?usage: selftest.sh KERNEL GUESTDIR}
work=$(mktemp -d "${TMPDIR:-/tmp}/rrelay-selftest.XXXXXX")
trap 'rm -rf "$work"' EXIT

# tap N ok|fail DESC
tap() { if [[ $2 == ok ]]; then echo "ok $1 $3"; else echo "not ok $1 $3"; fi; }

# expect N NAMES TIMEOUT WANT...: TAP result N: run the suite with only the
# injected tests NAMES (space-separated) in a subshell; it must fail, with
# every failure line WANT among its results.
expect() {
    local n=$1 name=$2 timeout=$3 want missing= key=${2// /+}
    shift 3
    (
        . "$RRELAY_ROOT/scripts/results.sh"
        RRELAY_VM_TIMEOUT=$timeout run_guest_suite "$kernel" "$guest" "$name" "$work/$key"
        summary
    ) >"$work/$key.results" 2>&1
    local rc=$?
    for want in "$@"; do
        grep -q "^FAILED .*$want" "$work/$key.results" || missing+=" [$want]"
    done
    if ((rc != 0)) && [[ -z $missing ]]; then
        tap "$n" ok "$name is caught ($*)"
    else
        tap "$n" fail "$name is caught (exit $rc; not found:${missing:- none})"
        sed 's/^/# /' "$work/$key.results"
    fi
}

echo "# rrelay-test: runner-selftest"
# A KUnit and a TAP failure share a boot; a WARN and a hang end theirs. The
# debug kernel adds one way to fail, a leak kmemleak finds; the rest does
# not depend on the kernel (the reports the debug kernel adds, KASAN,
# lockdep and the like, are matched by tests/runner/splats.sh on real
# samples), and make check shows it.
if [[ $kernel == debug ]]; then
    echo "1..1"
    # The injected leaks are caught by the scan after unload; while the
    # module is loaded kmemleak still finds a reference to them (not yet
    # explained), so the loaded scan is not asked to.
    expect 1 inject_leak 300 "leaks: unloaded: kmemleak finds no leak"
else
    echo "1..3"
    # Three boots at once (each mostly waits for its failure), results in
    # order.
    expect 1 "inject_kunit inject_tap" 120 "kunit: rrelay_inject.rrelay_inject_case" \
        "inject_tap: this one fails on purpose" >"$work/1.tap" &
    expect 2 inject_warn 120 "vm: guest suite (exit 99" >"$work/2.tap" &
    expect 3 inject_hang 25 "vm: guest suite (exit 98" >"$work/3.tap" &
    wait
    cat "$work"/{1,2,3}.tap
fi
