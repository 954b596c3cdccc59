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

# Kernel log lines that fail a VM run (scripts/vm-run.sh): oopses, panics,
# BUG and WARNING reports, sanitizers, lockdep, debug objects, list and
# refcount checks, kmemleak, sleeping in atomic context, and stalls: RCU
# (normal and expedited), hung tasks, soft and hard lockups, workqueue
# lockups. tests/runner/splats.sh checks it against real message formats.
SPLAT_RE='Oops|Kernel panic|BUG:|WARNING:|KASAN:|UBSAN:|KCSAN:|kernel BUG at|general protection fault|possible recursive locking|circular locking dependency|inconsistent lock state|possible irq lock inversion|ODEBUG:|refcount_t:|list_add corruption|list_del corruption|unreferenced object|sleeping function called from invalid context|scheduling while atomic|INFO: [a-z_]+ (self-)?detected (expedited )?stalls?|INFO: task .* blocked.* for more than|soft lockup|hard LOCKUP|workqueue lockup'

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
