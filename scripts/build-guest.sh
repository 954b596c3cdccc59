#!/usr/bin/env bash
# Build everything the guest runs into one directory (it becomes /opt in the
# VM): modules/*.ko, bin/ (test programs and the rrelay tool), run.sh.
#
# Usage: scripts/build-guest.sh OUTDIR   (KDIR from the environment, or the
# cached test kernel)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=${1:?usage: build-guest.sh OUTDIR}
KDIR=${KDIR:-$("$RRELAY_ROOT/scripts/kernel.sh" base)}
mkdir -p "$out/modules" "$out/bin"

# The modules build from a copy of their sources per kernel and per source
# tree, in the cache, so base and debug builds, two clones, and a
# developer's in-tree `make` never share objects. rsync keeps the copy (and
# the build) incremental: files are compared by content and a changed one
# gets the time of the copy, so make rebuilds it even when the tree's own
# file is older than the objects.
mo=$RRELAY_CACHE/mo/$(basename "$KDIR")-$(printf '%s' "$RRELAY_ROOT" | sha256sum | cut -c1-8)
mkdir -p "$mo"
sync_opts=(-a --no-times --checksum --delete --exclude='*.o' --exclude='*.ko' --exclude='*.mod*'
           --exclude='.*.cmd' --exclude='*.rmeta' --exclude='*.d' --exclude='modules.order'
           --exclude='Module.symvers')
rsync "${sync_opts[@]}" "$RRELAY_ROOT"/{Kbuild,src,include,samples,bench} "$mo/"
mkdir -p "$mo/tests"
rsync "${sync_opts[@]}" "$RRELAY_ROOT/tests/modules" "$mo/tests/"
make -C "$KDIR" M="$mo" LLVM=$LLVM_SUFFIX RRELAY_EXTRAS=y RRELAY_KUNIT=y -j"$(nproc)" modules
find "$mo" -name '*.ko' -exec cp {} "$out/modules/" \;

# Stand-alone programs, static C (tests/progs/*.c: the benchmark's
# read_loop; the C tests are kselftests, below). tests/guest/run.sh runs
# every bin/test_*, so none is left over from an earlier build into the
# same OUTDIR.
rm -f "$out"/bin/test_*
for c in "$RRELAY_ROOT"/tests/progs/*.c; do
    [[ -e $c ]] || continue
    gcc -static -O2 -Wall -Werror -I"$RRELAY_ROOT/include" -I"$RRELAY_ROOT/include/uapi" -I"$RRELAY_ROOT/tests/progs" \
        -o "$out/bin/$(basename "$c" .c)" "$c"
done

# The kselftests (tests/selftests/rrelay), built and installed by the
# fetched kernel's selftest machinery (lib.mk), with its run_kselftest.sh
# and runner, in the kselftest_install layout under kselftest/.
ksft=$(readlink -f "$KDIR/source")/tools/testing/selftests
rm -rf "$out/kselftest" "$mo/kselftest"
mkdir -p "$out/kselftest" "$mo/kselftest"
make -s -C "$RRELAY_ROOT/tests/selftests/rrelay" KSFT_DIR="$ksft" OUTPUT="$mo/kselftest" \
    install INSTALL_PATH="$out/kselftest/rrelay"
cp -r "$ksft/run_kselftest.sh" "$ksft/kselftest" "$out/kselftest/"
make -s -C "$RRELAY_ROOT/tests/selftests/rrelay" KSFT_DIR="$ksft" OUTPUT="$mo/kselftest" \
    COLLECTION=rrelay emit_tests >"$out/kselftest/kselftest-list.txt"

# The reader tool, static (musl) so it runs in the initramfs as is.
cp "$("$RRELAY_ROOT/scripts/tools.sh")" "$out/bin/"

cp "$RRELAY_ROOT/tests/guest/run.sh" "$out/run.sh"
cp -r "$RRELAY_ROOT/tests/guest/lib" "$RRELAY_ROOT/tests/guest/t" "$RRELAY_ROOT/tests/guest/inject" \
    "$RRELAY_ROOT/tests/guest/bench" "$RRELAY_ROOT/tests/guest/stress" "$out/"
