#!/usr/bin/env bash
# Fetch Debian's linux-source-7.2, configure it from config/*.config on top of
# tinyconfig and build it out of tree into the cache. Prints the build
# directory (the KDIR for the module) on stdout. Reuses a finished build whose
# key (kernel version, config fragments, rustc, clang) is unchanged.
#
# Usage: scripts/kernel.sh [base|debug]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${1:-base}
case $variant in
    base) frags=("$RRELAY_ROOT/config/base.config") ;;
    debug) frags=("$RRELAY_ROOT/config/base.config" "$RRELAY_ROOT/config/debug.config") ;;
    *) die "unknown kernel variant '$variant' (base or debug)" ;;
esac

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

# Download the kernel source package with a private apt configuration and
# state directory; the system's apt setup is not touched.
fetch_source() {
    local apt=$RRELAY_CACHE/apt mirror deb v
    mkdir -p "$apt"/{lists/partial,cache/archives/partial,parts,prefs} "$RRELAY_CACHE/deb"
    mirror=$(system_mirror)
    cat >"$apt/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror unstable main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie-backports main
SRC
    local opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=$apt/parts"
                -o "Dir::Etc::preferencesparts=$apt/prefs" -o "Dir::State=$apt"
                -o "Dir::State::lists=$apt/lists" -o "Dir::Cache=$apt/cache"
                -o "Dir::State::status=/var/lib/dpkg/status" -o "APT::Sandbox::User=root")
    log "apt update (private state in $apt, mirror $mirror)"
    apt-get "${opts[@]}" -qq update
    for v in $KERNEL_PKG_VERSIONS; do
        if apt-cache "${opts[@]}" show "$KERNEL_PKG=$v" >/dev/null 2>&1; then
            log "downloading $KERNEL_PKG $v"
            (cd "$RRELAY_CACHE/deb" && apt-get "${opts[@]}" -qq download "$KERNEL_PKG=$v")
            echo "$v"
            return
        fi
    done
    v=$(apt-cache "${opts[@]}" policy "$KERNEL_PKG" | awk '/Candidate:/ { print $2 }')
    [[ -n $v && $v != "(none)" ]] || die "$KERNEL_PKG is not on the mirror"
    log "none of $KERNEL_PKG_VERSIONS is on the mirror; using $v"
    (cd "$RRELAY_CACHE/deb" && apt-get "${opts[@]}" -qq download "$KERNEL_PKG=$v")
    echo "$v"
}

# Unpack the kernel tree once; $RRELAY_CACHE/src/VERSION says which package.
SRC=$RRELAY_CACHE/src/linux-source-7.2
if [[ ! -f $RRELAY_CACHE/src/VERSION || ! -f $SRC/Makefile ]]; then
    deb=$(ls "$RRELAY_CACHE"/deb/${KERNEL_PKG}_*_all.deb 2>/dev/null | head -n1 || true)
    if [[ -z $deb ]]; then
        fetch_source >/dev/null
        deb=$(ls "$RRELAY_CACHE"/deb/${KERNEL_PKG}_*_all.deb | head -n1)
    fi
    v=$(dpkg-deb -f "$deb" Version)
    log "unpacking $KERNEL_PKG $v"
    rm -rf "$RRELAY_CACHE/src" && mkdir -p "$RRELAY_CACHE/src"
    dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards '*/linux-source-7.2.tar.xz' | tar -xJ -C "$RRELAY_CACHE/src"
    echo "$v" >"$RRELAY_CACHE/src/VERSION"
fi
kver=$(cat "$RRELAY_CACHE/src/VERSION")

key=$( { echo "$kver"; cat "${frags[@]}"; rustc --version; bindgen --version; clang$LLVM_SUFFIX --version | head -n1; } | sha256sum | cut -c1-12)
B=$RRELAY_CACHE/kernel/$variant-$key
if [[ -f $B/.rrelay-built ]]; then
    echo "$B"
    exit 0
fi

log "building $variant kernel ($KERNEL_PKG $kver) in $B; log: $B.log"
start=$(now)
rm -rf "$B" && mkdir -p "$B"
{
    make -C "$SRC" O="$B" "${KMAKE_FLAGS[@]}" tinyconfig
    (cd "$SRC" && ./scripts/kconfig/merge_config.sh -m -O "$B" "$B/.config" "${frags[@]}")
    make -C "$SRC" O="$B" "${KMAKE_FLAGS[@]}" olddefconfig
} >"$B.log" 2>&1 || die "kernel configuration failed; see $B.log"

# Every option the fragments ask for must have stuck; kconfig drops silently.
bad=0
while IFS= read -r line; do
    [[ $line =~ ^(CONFIG_[A-Z0-9_]+)=(.*)$ ]] || continue
    opt=${BASH_REMATCH[1]} val=${BASH_REMATCH[2]}
    if [[ $val == n ]]; then
        grep -q "^$opt=" "$B/.config" && { log "config: $opt is set, wanted off"; bad=1; }
    else
        grep -qx "$opt=$val" "$B/.config" || { log "config: $opt=$val did not stick ($(grep "^$opt=\|$opt is not set" "$B/.config" || echo absent))"; bad=1; }
    fi
done < <(cat "${frags[@]}")
((bad == 0)) || die "kernel configuration incomplete (see above; Rust needs rustc, bindgen and rust-src)"

make -C "$SRC" O="$B" "${KMAKE_FLAGS[@]}" -j"$(nproc)" >>"$B.log" 2>&1 || die "kernel build failed; see $B.log"
echo "$kver" >"$B/.rrelay-built"
log "kernel built in $(($(now) - start)) s"
echo "$B"
