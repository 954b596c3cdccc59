#!/usr/bin/env bash
# `make check-intree`: rrelay in the kernel tree, blktrace on it, traced with
# Debian's blktrace and blkparse; every result counted into one summary line.
#
#   1. host: the series of scripts/kernel-patches.sh applies with `git am`
#      and, with no fuzz or offset, with `patch -p1` to a pristine copy of
#      the source, leaves the pristine tree alone, and carries the
#      repository's files unchanged but for the include lines
#   2. the intree kernel (scripts/kernel.sh intree: the series applied,
#      rrelay built in, blktrace on it), built or reused
#   3. one VM boot of the intree kernel: rrelay's KUnit suites (built in,
#      they run at boot) and tests/guest/intree/blktrace.sh rrelay
#   4. one VM boot of the base kernel: tests/guest/intree/blktrace.sh relay
#   5. host: blkparse's counts on rrelay equal those on relay
#   6. every test of tests/expected.txt for the "intree" kernel ran, with
#      its count of results
#
# Usage: scripts/check-intree.sh   (RRELAY_BLKTRACE_IOS: the I/Os of each
# direction, default 3000; another value skips the expected-test list)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$RRELAY_ROOT/scripts/results.sh"

start=$(now)
"$RRELAY_ROOT/scripts/bootstrap.sh" || die "bootstrap failed"
ios=${RRELAY_BLKTRACE_IOS:-3000}
mkdir -p "$RRELAY_CACHE/tmp"
# In the cache: the same filesystem as the source, for hard-linked copies.
work=$(mktemp -d "$RRELAY_CACHE/tmp/check-intree.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 1. The series against a pristine copy of the source.
series_tap() {
    local src p f n=0 bad files=()
    src=$("$RRELAY_ROOT/scripts/kernel.sh" source) || { echo "Bail out! no kernel source"; return; }
    echo "1..6"
    t() { n=$((n + 1)); if [[ $1 == 0 ]]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
    "$RRELAY_ROOT/scripts/kernel-patches.sh" "$work/series" >/dev/null 2>"$work/series.log"
    t $? "kernel-patches.sh makes the series ($(find "$work/series" -name '*.patch' 2>/dev/null | wc -l) files, cover letter included)"
    # git am, in a repository holding the pristine files the series touches.
    mapfile -t files < <(sed -n 's|^+++ b/||p; s|^--- a/||p' "$work"/series/000[1-9]-*.patch | sort -u)
    mkdir -p "$work/am"
    for f in "${files[@]}"; do [[ -f $src/$f ]] && install -D -m 644 "$src/$f" "$work/am/$f"; done
    (cd "$work/am" && git init -q && git add -A &&
        git -c user.name=t -c user.email=t@t commit -q -m pristine &&
        git -c user.name=t -c user.email=t@t am -q "$work"/series/000[1-9]-*.patch) >"$work/am.log" 2>&1
    t $? "git am applies the series ($(git -C "$work/am" log --oneline 2>/dev/null | wc -l) commits)"
    sed 's/^/# /' "$work/am.log" | head -n 20
    # patch -p1 on a whole pristine tree (hard-linked; patch writes new files).
    sha() { (cd "$src" && sha256sum "${files[@]}" 2>/dev/null) | sha256sum; }
    local before
    before=$(sha)
    cp -al "$src" "$work/tree"
    bad=0
    for p in "$work"/series/000[1-9]-*.patch; do
        patch -p1 --forward --fuzz=0 -d "$work/tree" <"$p" >"$work/patch.log" 2>&1 || bad=1
        if grep -qE 'offset|fuzz|FAILED|rej' "$work/patch.log"; then
            sed 's/^/# /' "$work/patch.log"
            bad=1
        fi
    done
    t $bad "patch -p1 applies every patch to a pristine copy of the source, with no fuzz or offset"
    [[ $(sha) == "$before" ]]
    t $? "the pristine source is unchanged"
    # The tree carries the repository's files: equal, but for the include lines.
    bad=0
    for f in "$RRELAY_ROOT"/src/*.rs "$RRELAY_ROOT"/src/*.h "$RRELAY_ROOT"/src/rrelay_shim.c; do
        diff -q <(sed 's|^#include <rrelay\.h>$|#include <linux/rrelay.h>|' "$f") \
            "$work/tree/kernel/rrelay/$(basename "$f")" >/dev/null || { echo "# differs: $f"; bad=1; }
    done
    for f in rrelay.h rrelay_compat.h; do
        diff -q <(sed 's|^#include <rrelay\.h>$|#include <linux/rrelay.h>|' "$RRELAY_ROOT/include/$f") \
            "$work/tree/include/linux/$f" >/dev/null || { echo "# differs: include/$f"; bad=1; }
    done
    cmp -s "$RRELAY_ROOT/include/uapi/linux/rrelay.h" "$work/tree/include/uapi/linux/rrelay.h" ||
        { echo "# differs: include/uapi/linux/rrelay.h"; bad=1; }
    t $bad "the patched tree has src/ and include/ as they are, but for #include <rrelay.h>"
    # Patch 2 is blktrace's include line and its select, nothing more.
    [[ $(grep -c '^[-+][^-+]' "$work"/series/0002-*.patch) == 4 ]] &&
        grep -qx '+#include <linux/rrelay_compat.h>' "$work"/series/0002-*.patch &&
        grep -qx '+	select RRELAY' "$work"/series/0002-*.patch
    t $? "the blktrace patch changes two lines: its include and its select"
    rm -rf "$work/tree" "$work/am"
}
log "the patch series against a pristine copy of the source"
{ echo "# rrelay-test: kernel-patches"; series_tap; } >"$work/series.tap" 2>&1
count_tap "$work/series.tap"
awk '/^(not ok|Bail out)/ { p = 1; print; next } /^(ok|1\.\.)/ { p = 0 } p' "$work/series.tap" >&2

# 2. The kernels and the guest's files.
kstart=$(now)
if kdir=$("$RRELAY_ROOT/scripts/kernel.sh" intree); then
    export KDIR=$kdir # the kernel tree whose tools parse the KUnit results
    result pass "build: intree kernel ($(basename "$kdir"), $(($(now) - kstart)) s)"
else
    result fail "build: intree kernel"
    summary
    exit 1
fi
bt=$("$RRELAY_ROOT/scripts/blktrace-guest.sh") || die "blktrace for the guest: failed"

# 3, 4. blktrace on rrelay (intree kernel) and on relay (base kernel).
for run in intree:rrelay base:relay; do
    kernel=${run%%:*} kind=${run#*:}
    log "blktrace on $kind: the $kernel kernel"
    rc=0
    "$RRELAY_ROOT/scripts/vm-run.sh" --kernel "$kernel" --timeout "${RRELAY_VM_TIMEOUT:-600}" \
        --log "$work/$kind.console" --add "$bt:/" --add "$RRELAY_ROOT/tests/guest/intree:/opt/intree" \
        -- "echo '# rrelay-test: blktrace-$kind'; sh /opt/intree/blktrace.sh $kind $ios" \
        >"$work/$kind.tap" 2>"$work/$kind.err" || rc=$?
    [[ $kernel == intree ]] && count_kunit "$work/$kind.console"
    count_tap "$work/$kind.tap"
    grep -E '^# (counts|events|blkparse|blktrace|rrelay stats):' "$work/$kind.tap" | sed "s/^# /    $kind: /" >&2
    if ((rc == 0)); then
        result pass "vm: blktrace on $kind ($kernel kernel) exited 0, kernel log clean"
    else
        sed 's/^/    /' "$work/$kind.err" >&2
        result fail "vm: blktrace on $kind ($kernel kernel) (exit $rc: $(tail -n 1 "$work/$kind.err"))"
    fi
done

# 5. The same figures on both.
{
    echo "# rrelay-test: blktrace-compare"
    echo "1..1"
    a=$(sed -n 's/^# counts: //p' "$work/rrelay.tap")
    b=$(sed -n 's/^# counts: //p' "$work/relay.tap")
    if [[ -n $a && $a == "$b" ]]; then
        echo "ok 1 - blkparse's counts on rrelay equal those on relay: $a"
        echo "# events: rrelay $(sed -n 's/^# events: //p' "$work/rrelay.tap"), relay $(sed -n 's/^# events: //p' "$work/relay.tap")"
    else
        echo "not ok 1 - blkparse's counts differ: rrelay '$a', relay '$b'"
    fi
} >"$work/compare.tap"
count_tap "$work/compare.tap"

# 6. Everything that should have run did.
if [[ $ios == 3000 ]]; then
    check_expected "$RRELAY_ROOT/tests/expected.txt" intree
    for key in "${!RAN[@]}"; do echo "$key ${RAN[$key]}"; done | sort >"$RRELAY_CACHE/last-ran-intree.txt"
else
    result skip "harness: expected-test list (RRELAY_BLKTRACE_IOS is not 3000)"
fi

log "done in $(($(now) - start)) s"
summary
