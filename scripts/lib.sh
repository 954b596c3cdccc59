# Shared settings for rrelay's pipeline scripts; sourced, never run.
# shellcheck shell=bash

RRELAY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RRELAY_CACHE=${RRELAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rrelay}

# The Debian package that carries the kernel source, and the versions tried
# in order (the first one the mirror still has wins).
KERNEL_PKG=linux-source-7.2
KERNEL_PKG_VERSIONS=${KERNEL_PKG_VERSIONS:-"7.2.13-1 7.2.12-1~bpo13+1 7.2.11-1~bpo13+1"}

# The LLVM suffix (clang-19, ld.lld-19) is the Makefile's `LLVM ?=` line,
# the one place it is set.
LLVM_SUFFIX=$(sed -n 's/^LLVM ?= *//p' "$RRELAY_ROOT/Makefile")
[[ $LLVM_SUFFIX == -[0-9]* ]] || { echo "rrelay: no 'LLVM ?= -N' line in the Makefile" >&2; exit 1; }
KMAKE_FLAGS=(LLVM=$LLVM_SUFFIX)

# Kernel, module, samples and tools all use the toolchain pinned in
# rust-toolchain.toml; the kernel build runs outside the repo, so pin by env.
RRELAY_TOOLCHAIN=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$RRELAY_ROOT/rust-toolchain.toml")
export RUSTUP_TOOLCHAIN=$RRELAY_TOOLCHAIN
export PATH="$HOME/.cargo/bin:$PATH"
# Host crates build into the cache, outside the repository: a fresh clone
# reuses the compiled dependencies (cargo locks the directory while it
# builds; each clone's own crates are rebuilt, keyed by their path).
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$RRELAY_CACHE/cargo-target}

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

# TAP for the host-side test scripts: tap STATUS DESCRIPTION [LOG] prints
# test number TAP_N, ok when STATUS is 0, else not ok with LOG's tail as
# comments (and counts it in TAP_FAILED); tap_end prints the plan and
# returns whether all passed.
TAP_N=0 TAP_FAILED=0
tap() {
    TAP_N=$((TAP_N + 1))
    if [[ $1 == 0 ]]; then
        echo "ok $TAP_N $2"
    else
        echo "not ok $TAP_N $2"
        TAP_FAILED=$((TAP_FAILED + 1))
        [[ -n ${3:-} && -f ${3:-} ]] && tail -n 20 "$3" | sed 's/^/# /'
    fi
    return 0
}
tap_end() {
    echo "1..$TAP_N"
    ((TAP_FAILED == 0))
}

# prepare_kernel VARIANT: set up the machine and build (or reuse) the
# VARIANT kernel. Exports KDIR.
prepare_kernel() {
    "$RRELAY_ROOT/scripts/bootstrap.sh" || return
    KDIR=$("$RRELAY_ROOT/scripts/kernel.sh" "$1") || return
    export KDIR
}

# prepare_guest VARIANT: prepare_kernel, then build everything the guest
# runs into a new directory, named in $GUEST (removed at exit).
prepare_guest() {
    prepare_kernel "$1" || die "kernel build failed"
    GUEST=$(mktemp -d "${TMPDIR:-/tmp}/rrelay-guest.XXXXXX")
    trap 'rm -rf "$GUEST" "$GUEST.log" "$GUEST.out"' EXIT
    log "building the module, the samples, the tests and the tools"
    "$RRELAY_ROOT/scripts/build-guest.sh" "$GUEST" >"$GUEST.log" 2>&1 || {
        cat "$GUEST.log" >&2
        die "build failed"
    }
}

# The mirror the system's own apt sources use for Debian's main archive.
system_mirror() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -e $f ]] || continue
        uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' "$f")
        [[ -n $uri ]] && { echo "$uri"; return; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -e $f ]] || continue
        uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\// && $i ~ /\/debian\/?$/) { print $i; exit } }' "$f")
        [[ -n $uri ]] && { echo "$uri"; return; }
    done
    die "no Debian mirror found in the system's apt sources"
}

# A private apt configuration and state directory, $RRELAY_CACHE/apt (or
# $RRELAY_CACHE/apt-NAME), on the mirror the system uses, for the given
# suites (default: unstable and trixie-backports, for the kernel source);
# the system's own apt setup is not touched. Sets PRIVATE_APT_OPTS, the
# options for apt-get and apt-cache, and updates the package lists.
#
# Usage: private_apt_update [NAME SUITE...]
private_apt_update() {
    local apt=$RRELAY_CACHE/apt mirror suite suites=(unstable trixie-backports)
    if (($#)); then
        apt=$RRELAY_CACHE/apt-$1
        shift
        suites=("$@")
    fi
    mkdir -p "$apt"/{lists/partial,cache/archives/partial,parts,prefs}
    mirror=$(system_mirror)
    for suite in "${suites[@]}"; do
        echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main"
    done >"$apt/sources.list"
    PRIVATE_APT_OPTS=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=$apt/parts"
                      -o "Dir::Etc::preferencesparts=$apt/prefs" -o "Dir::State=$apt"
                      -o "Dir::State::lists=$apt/lists" -o "Dir::Cache=$apt/cache"
                      -o "Dir::State::status=/var/lib/dpkg/status" -o "APT::Sandbox::User=root")
    log "apt update (private state in $apt, mirror $mirror, ${suites[*]})"
    apt-get "${PRIVATE_APT_OPTS[@]}" -qq update
}
