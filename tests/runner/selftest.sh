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

n=0
tap() { n=$((n + 1)); if [[ $1 == ok ]]; then echo "ok $n $2"; else echo "not ok $n $2"; fi; }

# expect NAME TIMEOUT WANT: run the suite with only the injected test NAME in
# a subshell and look for the failure line WANT among its results.
expect() {
    local name=$1 timeout=$2 want=$3
    (
        . "$RRELAY_ROOT/scripts/results.sh"
        RRELAY_VM_TIMEOUT=$timeout run_guest_suite "$kernel" "$guest" "$name" "$work/$name"
        summary
    ) >"$work/$name.results" 2>&1
    local rc=$?
    if ((rc != 0)) && grep -q "^FAILED .*$want" "$work/$name.results"; then
        tap ok "$name is caught ($want)"
    else
        tap fail "$name is caught ($want)"
        sed 's/^/# /' "$work/$name.results"
    fi
}

echo "# rrelay-test: runner-selftest"
echo "1..4"
expect inject_kunit 120 "kunit: rrelay_inject.rrelay_inject_case"
expect inject_tap 120 "inject_tap: this one fails on purpose"
expect inject_warn 120 "vm: guest suite (exit 99"
expect inject_hang 25 "vm: guest suite (exit 98"
