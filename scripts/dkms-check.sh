#!/usr/bin/env bash
# DKMS as a distribution uses it: Debian's dkms adds rrelay (dkms.conf) and
# builds it against the test kernel's tree, with private source and DKMS
# trees (nothing under /usr/src or /var/lib/dkms changes). The module it
# built is copied to OUT_DIR/rrelay.ko, for the guest test `dkms` that
# loads it. Prints TAP; exits 0 when every test passes.
#
# Usage: scripts/dkms-check.sh OUT_DIR
#
# Environment: KDIR, a kernel build from scripts/kernel.sh (default: the
# base kernel, built if needed).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

out=${1:?usage: dkms-check.sh OUT_DIR}
kdir=${KDIR:-$("$RRELAY_ROOT/scripts/kernel.sh" base)}
rel=$(cat "$kdir/include/config/kernel.release")
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$RRELAY_ROOT/dkms.conf")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

src=$work/src/rrelay-$ver
mkdir -p "$src" "$work/tree" "$out"
cp -r "$RRELAY_ROOT"/{Kbuild,Makefile,rust-toolchain.toml,src,include,dkms.conf} "$src/"
trees=(--sourcetree "$work/src" --dkmstree "$work/tree")
dkms add -m rrelay -v "$ver" "${trees[@]}" >"$work/add.log" 2>&1
tap $? "dkms add rrelay/$ver (dkms.conf)" "$work/add.log"
dkms build -m rrelay -v "$ver" -k "$rel" --kernelsourcedir "$kdir" "${trees[@]}" >"$work/build.log" 2>&1
st=$?
ko=$work/tree/rrelay/$ver/$rel/$(uname -m)/module/rrelay.ko
[[ $st == 0 && -f $ko ]]
tap $? "dkms build against the $rel tree" "$work/tree/rrelay/$ver/build/make.log"
cp "$ko" "$out/rrelay.ko" 2>/dev/null
vermagic=$(modinfo -F vermagic "$out/rrelay.ko" 2>/dev/null)
[[ $vermagic == "$rel "* ]]
tap $? "the module it built is for $rel (vermagic: ${vermagic:-none})"
tap_end
