#!/usr/bin/env bash
# `make clippy`: the kernel's clippy lints (CLIPPY=1) on the module, the
# samples, the test modules and the benchmark, with the KUnit suites in.
# It lints a copy of the sources under the cache, so the lint build never
# shares objects with a developer's `make`, and touches every Rust file so
# that each is linted, not just the ones make finds stale. Fails on any
# warning, and when no CLIPPY step ran. KDIR: the kernel tree (default: the
# base test kernel).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KDIR=${KDIR:-$("$RRELAY_ROOT/scripts/kernel.sh" base)}
dir=$RRELAY_CACHE/clippy/$(basename "$KDIR")-$(printf '%s' "$RRELAY_ROOT" | sha256sum | cut -c1-8)
mkdir -p "$dir"
rsync -a --delete --exclude='*.o' --exclude='*.ko' --exclude='*.mod*' --exclude='.*.cmd' \
    "$RRELAY_ROOT"/{Kbuild,src,include,samples,bench,tests} "$dir/"
find "$dir" -name '*.rs' -exec touch {} +
# Not silent whatever the caller asked (`make -s clippy`): the CLIPPY lines
# tell that the lints ran.
out=$(MAKEFLAGS= make -C "$KDIR" M="$dir" "${KMAKE_FLAGS[@]}" CLIPPY=1 RRELAY_EXTRAS=y RRELAY_KUNIT=y \
    -j"$(nproc)" modules 2>&1) || { printf '%s\n' "$out"; die "clippy: the build failed"; }
printf '%s\n' "$out"
grep -q 'CLIPPY' <<<"$out" || die "clippy: no CLIPPY step ran"
if grep -E -q '^(warning|error)' <<<"$out"; then
    die "clippy: warnings (above)"
fi
