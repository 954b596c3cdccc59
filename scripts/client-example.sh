#!/usr/bin/env bash
# Building against rrelay as a user does, from a copy of the tree: a plain
# `make` builds rrelay.ko alone, without the KUnit suites; `make install` puts the module and what
# clients need (headers, rrelay.mk, Module.symvers) under a root; and the
# README's client example (its mytrace.c, Kbuild and Makefile, taken from
# README.md's own text) builds against that installed copy with no warning
# and depends on rrelay. Prints TAP; exits 0 when every test passes.
#
# Usage: scripts/client-example.sh
#
# Environment: KDIR, a kernel build from scripts/kernel.sh (default: the
# base kernel, built if needed).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

kdir=${KDIR:-$("$RRELAY_ROOT/scripts/kernel.sh" base)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

src=$work/rrelay
mkdir -p "$src"
cp -r "$RRELAY_ROOT"/{Kbuild,Makefile,rust-toolchain.toml,src,include} "$src/"
make -C "$src" KDIR="$kdir" -j"$(nproc)" >"$work/build.log" 2>&1
st=$?
kos=$(cd "$src" && find . -name '*.ko' | sort | tr '\n' ' ')
[[ $st == 0 && $kos == "./rrelay.ko " ]]
tap $? "make builds rrelay.ko alone (built: ${kos:-nothing})" "$work/build.log"
ksyms=$(nm "$src/rrelay.ko" 2>/dev/null | grep -ci kunit)
[[ -f $src/rrelay.ko && $ksyms == 0 ]]
tap $? "with no KUnit suite in it: no kunit symbol (found $ksyms; the test builds set RRELAY_KUNIT=y)"

root=$work/root
make -C "$src" KDIR="$kdir" install INSTALL_MOD_PATH="$root" DESTDIR="$root" >"$work/install.log" 2>&1
st=$?
inst=$root/usr/local/src/rrelay
missing=
for f in "$inst"/include/{rrelay.h,rrelay_compat.h,rrelay.rs,rrelay.mk} \
    "$inst/include/uapi/linux/rrelay.h" "$inst/Module.symvers"; do
    [[ -f $f ]] || missing+=" ${f#"$root"}"
done
ko=$(find "$root/lib/modules" -path '*/updates/rrelay.ko' 2>/dev/null | head -n1)
[[ $st == 0 && -z $missing && -n $ko ]]
tap $? "make install: the module under INSTALL_MOD_PATH, headers and Module.symvers under DESTDIR/usr/local/src/rrelay${missing:+ (missing:$missing)}" "$work/install.log"

# The README's blocks: the C example after "### In C", then the two make
# blocks after "Its \`Kbuild\`" and "its \`Makefile\`".
client=$work/client
mkdir -p "$client"
block() { # block START_PATTERN LANG: the first ```LANG block after START_PATTERN
    awk -v start="$1" -v lang="$2" '
        !on && index($0, start) { on = 1; next }
        on == 1 && $0 == "```" lang { on = 2; next }
        on == 2 && $0 == "```" { exit }
        on == 2 { print }' "$RRELAY_ROOT/README.md"
}
block '### In C' c >"$client/mytrace.c"
block 'Its `Kbuild`' make >"$client/Kbuild"
block 'its `Makefile`' make >"$client/Makefile"
for f in mytrace.c Kbuild Makefile; do
    [[ -s $client/$f ]] || echo "# README.md has no $f block" >&2
done
make -C "$client" KDIR="$kdir" RRELAY="$inst" >"$work/client.log" 2>&1
st=$?
grep -i 'warning' "$work/client.log" >"$work/client.warn"
[[ $st == 0 && -f $client/mytrace.ko && ! -s $work/client.warn ]]
tap $? "the README's client example builds as printed, with no warning" "$work/client.log"
deps=$(modinfo -F depends "$client/mytrace.ko" 2>/dev/null)
[[ $deps == rrelay ]]
tap $? "and depends on rrelay (depends: ${deps:-none})"

tap_end
