# Shared settings for rrelay's pipeline scripts; sourced, never run.
# shellcheck shell=bash

RRELAY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RRELAY_CACHE=${RRELAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rrelay}

# The Debian package that carries the kernel source, and the versions tried
# in order (the first one the mirror still has wins).
KERNEL_PKG=linux-source-7.2
KERNEL_PKG_VERSIONS=${KERNEL_PKG_VERSIONS:-"7.2.13-1 7.2.12-1~bpo13+1 7.2.11-1~bpo13+1"}

LLVM_SUFFIX=-19
KMAKE_FLAGS=(LLVM=$LLVM_SUFFIX)

# Kernel, module, samples and tools all use the toolchain pinned in
# rust-toolchain.toml; the kernel build runs outside the repo, so pin by env.
RRELAY_TOOLCHAIN=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$RRELAY_ROOT/rust-toolchain.toml")
export RUSTUP_TOOLCHAIN=$RRELAY_TOOLCHAIN
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '[rrelay] %s\n' "$*" >&2; }
die() { printf 'rrelay: %s\n' "$*" >&2; exit 1; }

# Seconds since the epoch, for the timings the scripts print.
now() { date +%s; }

# prepare_guest VARIANT: set up the machine, build (or reuse) the VARIANT
# kernel, and build everything the guest runs into a new directory, named in
# $GUEST (removed at exit). Exports KDIR.
prepare_guest() {
    "$RRELAY_ROOT/scripts/bootstrap.sh"
    KDIR=$("$RRELAY_ROOT/scripts/kernel.sh" "$1")
    export KDIR
    GUEST=$(mktemp -d "${TMPDIR:-/tmp}/rrelay-guest.XXXXXX")
    trap 'rm -rf "$GUEST" "$GUEST.log" "$GUEST.out"' EXIT
    log "building the module, the samples, the tests and the tools"
    "$RRELAY_ROOT/scripts/build-guest.sh" "$GUEST" >"$GUEST.log" 2>&1 || {
        cat "$GUEST.log" >&2
        die "build failed"
    }
}
