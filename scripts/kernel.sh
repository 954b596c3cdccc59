#!/usr/bin/env bash
# Fetch Debian's linux-source-7.2, configure it from config/*.config on top of
# tinyconfig and build it out of tree into the cache. Prints the build
# directory (the KDIR for the module) on stdout. Reuses a finished build whose
# key (kernel version, config fragments, rustc, clang) is unchanged.
#
# Variants: base (config/base.config), debug (plus config/debug.config),
# intree (base plus config/intree.config, built from a copy of the source
# with the rrelay series of scripts/kernel-patches.sh applied: rrelay built
# in, blktrace on it). The intree copy and build directory stay across
# changes to the series: the copy holds hard links to the pristine tree
# except for the files the series touches, which are re-synced by content,
# so a change in src/ rebuilds only what depends on it. Its first build
# starts from a copy of the base build (see in_src below). `source` unpacks the
# kernel source if needed and prints its directory; nothing is built.
#
# Usage: scripts/kernel.sh [base|debug|intree|source]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${1:-base}
case $variant in
    base) frags=("$RRELAY_ROOT/config/base.config") ;;
    debug) frags=("$RRELAY_ROOT/config/base.config" "$RRELAY_ROOT/config/debug.config") ;;
    intree) frags=("$RRELAY_ROOT/config/base.config" "$RRELAY_ROOT/config/intree.config") ;;
    source) frags=() ;;
    *) die "unknown kernel variant '$variant' (base, debug, intree or source)" ;;
esac

# Download the kernel source package with a private apt configuration and
# state directory; the system's apt setup is not touched.
fetch_source() {
    local v opts
    mkdir -p "$RRELAY_CACHE/deb"
    # shellcheck disable=SC2119 # no arguments: the default suites
    private_apt_update
    opts=("${PRIVATE_APT_OPTS[@]}")
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
if [[ $variant == source ]]; then
    echo "$SRC"
    exit 0
fi

key=$( { echo "$kver"; cat "${frags[@]}"; rustc --version; bindgen --version; clang$LLVM_SUFFIX --version | head -n1
         [[ $variant != intree ]] || echo "a copy of the base build; the patched tree mounted on the source's path"; } |
       sha256sum | cut -c1-12)
B=$RRELAY_CACHE/kernel/$variant-$key
stamp=$kver
# One build per directory at a time: a second caller waits, then reuses it.
mkdir -p "$RRELAY_CACHE/kernel"
exec 9>"$B.lock"
flock 9
if [[ $variant == intree ]]; then
    # The series, and the patched copy of the source it is built from.
    series=$(mktemp -d "${TMPDIR:-/tmp}/rrelay-series.XXXXXX")
    trap 'rm -rf "$series"' EXIT
    "$RRELAY_ROOT/scripts/kernel-patches.sh" "$series/p" >/dev/null 2>"$series/log" ||
        { cat "$series/log" >&2; die "making the patch series failed"; }
    stamp="$kver $(cat "$series"/p/000[1-9]-*.patch | sha256sum | cut -c1-12)"
    if [[ -f $B/.rrelay-built && $(cat "$B/.rrelay-built") == "$stamp" ]]; then
        echo "$B"
        exit 0
    fi
    T=$RRELAY_CACHE/src-intree/linux-source-7.2
    if [[ ! -f $T/.rrelay-pristine || $(cat "$T/.rrelay-pristine") != "$kver" ]]; then
        log "hard-linked copy of the source for the intree kernel: $T"
        rm -rf "$T" "$T.tmp" && mkdir -p "$(dirname "$T")"
        cp -al "$SRC" "$T.tmp"
        echo "$kver" >"$T.tmp/.rrelay-pristine"
        : >"$T.tmp/.rrelay-series-files"
        mv "$T.tmp" "$T"
    fi
    # Apply the series to pristine copies of the files it touches, then
    # bring those into T by content (rsync writes a new file, so the hard
    # links to the pristine tree are never written through; a changed file
    # gets a new time, so make rebuilds it). Files an older series touched
    # and this one does not go back to pristine.
    mkdir -p "$series/tree"
    mapfile -t files < <(sed -n 's|^+++ b/||p; s|^--- a/||p' "$series"/p/000[1-9]-*.patch | sort -u)
    for f in "${files[@]}"; do
        [[ -f $SRC/$f ]] && install -D -m 644 "$SRC/$f" "$series/tree/$f"
    done
    for p in "$series"/p/000[1-9]-*.patch; do
        patch -s -p1 -d "$series/tree" <"$p" || die "the series does not apply: $p"
    done
    while read -r f; do
        printf '%s\n' "${files[@]}" | grep -qxF "$f" && continue
        if [[ -f $SRC/$f ]]; then cp --remove-destination "$SRC/$f" "$T/$f"; else rm -f "$T/$f"; fi
    done <"$T/.rrelay-series-files"
    (cd "$series/tree" && rsync -a --no-times --checksum --relative "${files[@]}" "$T/")
    printf '%s\n' "${files[@]}" >"$T/.rrelay-series-files"
elif [[ -f $B/.rrelay-built ]]; then
    echo "$B"
    exit 0
fi

# in_src CMD...: run CMD in the source tree. For intree, that is the patched
# copy T, bind-mounted on the pristine tree's path in a private mount
# namespace: the kernel's build records the source path in every command it
# saves, so with the same path, a copy of the base build is an incremental
# build of the intree kernel (only what the series and CONFIG_RRELAY change
# is rebuilt), and nothing outside this process sees the mount.
# shellcheck disable=SC2016 # the inner script's arguments
in_src() {
    if [[ $variant == intree ]]; then
        unshare -m --propagation private bash -c 'mount --bind "$1" "$2" && cd "$2" && shift 2 && exec "$@"' \
            bind "$T" "$SRC" "$@"
    else
        (cd "$SRC" && "$@")
    fi
}

log "building $variant kernel ($KERNEL_PKG $kver) in $B; log: $B.log"
start=$(now)
if [[ $variant == intree && -f $B/.config ]]; then
    # Configured before: make re-runs Kconfig itself and rebuilds what changed.
    rm -f "$B/.rrelay-built"
    : >"$B.log"
elif [[ $variant == intree ]]; then
    # From a copy of the base build (the same config but CONFIG_RRELAY). The
    # series' files get a new time, so they are newer than every object
    # copied, however old T is.
    base=$("$0" base) || die "the base kernel (the intree kernel starts from it) failed"
    log "intree: starting from a copy of $base"
    rm -rf "$B" && cp -a "$base" "$B" && rm -f "$B/.rrelay-built"
    (cd "$T" && touch "${files[@]}")
    {
        in_src ./scripts/kconfig/merge_config.sh -m -O "$B" "$B/.config" "${frags[@]}"
        in_src make O="$B" "${KMAKE_FLAGS[@]}" olddefconfig
    } >"$B.log" 2>&1 || die "kernel configuration failed; see $B.log"
else
    rm -rf "$B" && mkdir -p "$B"
    {
        make -C "$SRC" O="$B" "${KMAKE_FLAGS[@]}" tinyconfig
        (cd "$SRC" && ./scripts/kconfig/merge_config.sh -m -O "$B" "$B/.config" "${frags[@]}")
        make -C "$SRC" O="$B" "${KMAKE_FLAGS[@]}" olddefconfig
    } >"$B.log" 2>&1 || die "kernel configuration failed; see $B.log"
fi

# Every option the fragments ask for must have stuck; kconfig drops silently.
bad=0
# A later fragment overrides an earlier one (as merge_config.sh does): the
# last value asked for each option is the one checked.
declare -A want=()
while IFS= read -r line; do
    if [[ $line =~ ^(CONFIG_[A-Z0-9_]+)=(.*)$ ]]; then
        want[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
    fi
done < <(cat "${frags[@]}")
for opt in "${!want[@]}"; do
    val=${want[$opt]}
    if [[ $val == n ]]; then
        grep -q "^$opt=" "$B/.config" && { log "config: $opt is set, wanted off"; bad=1; }
    else
        grep -qx "$opt=$val" "$B/.config" || { log "config: $opt=$val did not stick ($(grep "^$opt=\|$opt is not set" "$B/.config" || echo absent))"; bad=1; }
    fi
done
((bad == 0)) || die "kernel configuration incomplete (see above; Rust needs rustc, bindgen and rust-src)"

in_src make O="$B" "${KMAKE_FLAGS[@]}" -j"$(nproc)" >>"$B.log" 2>&1 || die "kernel build failed; see $B.log"
echo "$stamp" >"$B/.rrelay-built"
log "kernel built in $(($(now) - start)) s"
echo "$B"
