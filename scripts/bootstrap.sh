#!/usr/bin/env bash
# Make this machine ready to build and boot rrelay; a no-op when it already is.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DEB_PKGS=("clang$LLVM_SUFFIX" "lld$LLVM_SUFFIX" "llvm$LLVM_SUFFIX" "libclang$LLVM_SUFFIX-dev" qemu-system-x86 busybox-static
          cpio flex bison bc libelf-dev libssl-dev xz-utils kmod python3 rsync)

missing=()
for p in "${DEB_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# dkms for the DKMS test, without the distribution's kernel headers it
# recommends (it builds against the test kernel's tree).
if ! dpkg-query -W -f='${Status}' dkms 2>/dev/null | grep -q 'install ok installed'; then
    log "installing Debian package: dkms (no recommends)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dkms >/dev/null
fi

command -v rustup >/dev/null || die "rustup not found: install Rust with rustup first"
have_components=$(rustup component list --installed --toolchain "$RRELAY_TOOLCHAIN" 2>/dev/null || true)
for c in rust-src rustfmt clippy; do
    if ! grep -q "^$c" <<<"$have_components"; then
        log "rustup component add $c ($RRELAY_TOOLCHAIN)"
        rustup component add "$c" --toolchain "$RRELAY_TOOLCHAIN" >/dev/null
    fi
done
if ! grep -q x86_64-unknown-linux-musl <<<"$(rustup target list --installed --toolchain "$RRELAY_TOOLCHAIN")"; then
    log "rustup target add x86_64-unknown-linux-musl ($RRELAY_TOOLCHAIN)"
    rustup target add x86_64-unknown-linux-musl --toolchain "$RRELAY_TOOLCHAIN" >/dev/null
fi

if [[ "$(bindgen --version 2>/dev/null)" != "bindgen 0.72.1" ]]; then
    log "cargo install bindgen-cli 0.72.1"
    cargo install --locked bindgen-cli@0.72.1 --quiet
fi

# cargo fuzz (the accounting fuzz target) needs a nightly toolchain.
if ! rustup toolchain list | grep -q '^nightly'; then
    log "rustup toolchain install nightly (for cargo fuzz)"
    rustup toolchain install nightly --profile minimal >/dev/null
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    log "cargo install cargo-fuzz"
    cargo +nightly install cargo-fuzz --locked --quiet
fi
# cargo-mutants is installed by scripts/mutants.sh when `make mutants` first
# needs it: no check or CI run does, and it takes minutes to compile.
