# TAP helpers for the guest's shell tests; sourced from /opt/lib/tap.sh.
TAP_N=0
TAP_FAILED=0
plan() { echo "1..$1"; }
ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N $*"; }
not_ok() { TAP_N=$((TAP_N + 1)); TAP_FAILED=1; echo "not ok $TAP_N $*"; }
# check DESC CMD...: ok when CMD succeeds.
check() {
    d=$1; shift
    if "$@" >/tmp/tap.out 2>&1; then ok "$d"; else not_ok "$d"; sed 's/^/# /' /tmp/tap.out; fi
}
# check_fails DESC CMD...: ok when CMD fails.
check_fails() {
    d=$1; shift
    if "$@" >/tmp/tap.out 2>&1; then not_ok "$d"; sed 's/^/# /' /tmp/tap.out; else ok "$d"; fi
}
diag() { echo "# $*"; }
done_testing() { exit $TAP_FAILED; }
