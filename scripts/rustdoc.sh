#!/usr/bin/env bash
# rustdoc for the module's crate (src/rrelay_main.rs), with the kernel's own
# Rust flags. The kernel's `make rustdoc` only documents the in-tree crates
# (rust/Makefile); for an M= module this script lets Kbuild compile
# src/rrelay_main.o from a copy of the sources, with RUSTC_OR_CLIPPY set to a
# wrapper that, after the real rustc, runs rustdoc with the same flags (as
# rust/Makefile's cmd_rustdoc does for the kernel crate). Private items are
# documented too: nearly everything in rrelay is pub(crate). Any warning,
# rustc's or rustdoc's (a broken intra-doc link, say), fails the script.
#
# Usage: scripts/rustdoc.sh [OUTDIR]   (default target/rustdoc-module; KDIR
# from the environment, or the cached test kernel). Opens nothing; prints
# the path of the index.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=$(realpath -m "${1:-$RRELAY_ROOT/target/rustdoc-module}")
KDIR=${KDIR:-$("$RRELAY_ROOT/scripts/kernel.sh" base)}
[[ -f $KDIR/rust/libkernel.rmeta ]] || die "no Rust-enabled kernel build at $KDIR"

work=$(mktemp -d "${TMPDIR:-/tmp}/rrelay-rustdoc.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/mod/tests"
rsync -a --exclude='*.o' --exclude='*.ko' --exclude='*.mod*' --exclude='.*.cmd' \
    --exclude='*.rmeta' --exclude='*.d' --exclude='modules.order' --exclude='Module.symvers' \
    "$RRELAY_ROOT"/{Kbuild,src,include,samples,bench} "$work/mod/"
rsync -a --exclude='*.o' --exclude='*.ko' --exclude='*.mod*' --exclude='.*.cmd' \
    "$RRELAY_ROOT/tests/modules" "$work/mod/tests/"

# rustdoc has no object to emit: drop rustc's --emit and --out-dir and
# rust/Makefile's filtered --remap-path-scope; add what its cmd_rustdoc adds.
# -Cunsafe-allow-abi-mismatch=fixed-x18 is rust/Makefile's workaround for
# rustdoc not saving target modifiers, for rustc >= 1.88 as there.
workaround=
if printf '1.88.0\n%s\n' "$(rustc --version | awk '{ print $2 }')" | sort -V -C; then
    workaround=-Cunsafe-allow-abi-mismatch=fixed-x18
fi
export RRELAY_RUSTDOC_WORKAROUND=$workaround
cat >"$work/rustc-doc" <<'WRAP'
#!/usr/bin/env bash
"${RRELAY_REAL_RUSTC:-rustc}" "$@" || exit
case ${!#} in
    src/rrelay_main.rs | */src/rrelay_main.rs) ;;
    *) exit 0 ;;
esac
args=()
skip=0
for a in "$@"; do
    if ((skip)); then skip=0; continue; fi
    case $a in
        --emit=* | --remap-path-scope=*) ;;
        --out-dir) skip=1 ;;
        *) args+=("$a") ;;
    esac
done
exec "${RUSTDOC:-rustdoc}" "${args[@]}" -Zunstable-options --generate-link-to-definition \
    --document-private-items $RRELAY_RUSTDOC_WORKAROUND --output "$RRELAY_RUSTDOC_OUT"
WRAP
chmod +x "$work/rustc-doc"

rm -rf "$out/rrelay_main"
mkdir -p "$out"
log "rustdoc of src/rrelay_main.rs against $KDIR into $out"
rc=0
RRELAY_RUSTDOC_OUT=$out make -C "$KDIR" M="$work/mod" LLVM=$LLVM_SUFFIX \
    RUSTC_OR_CLIPPY="$work/rustc-doc" src/rrelay_main.o >"$work/build.log" 2>&1 || rc=$?
if ((rc != 0)) || grep -E -q '^(warning|error)' "$work/build.log"; then
    cat "$work/build.log" >&2
    die "rustdoc failed (exit $rc) or warned"
fi
[[ -f $out/rrelay_main/index.html ]] || die "rustdoc wrote no $out/rrelay_main/index.html"
echo "$out/rrelay_main/index.html"
