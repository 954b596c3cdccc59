#!/usr/bin/env bash
# Debian's blktrace package (blktrace and blkparse, as Debian built them)
# for the test VM: downloaded with a private apt configuration (the system's
# mirror and release, so the binaries run on the system's own libc), cached
# under $RRELAY_CACHE/blktrace/, and laid out as a tree to put into the
# guest's root: usr/sbin/blktrace, usr/bin/blkparse and the shared libraries
# they need (ELF NEEDED, resolved on this system, plus the dynamic loader),
# copied from the system, never rebuilt. Prints the tree's directory.
#
# Usage: scripts/blktrace-guest.sh     (then vm-run.sh --add DIR:/)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

. /etc/os-release
release=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
dir=$RRELAY_CACHE/blktrace
root=$dir/root-$release
if [[ -f $root/.rrelay-done ]]; then
    echo "$root"
    exit 0
fi

mkdir -p "$dir"
debs=("$dir"/blktrace_*_amd64.deb)
deb=${debs[0]}
if [[ ! -f $deb ]]; then
    private_apt_update "$release" "$release"
    (cd "$dir" && apt-get "${PRIVATE_APT_OPTS[@]}" -qq download blktrace) || die "apt-get download blktrace failed"
    debs=("$dir"/blktrace_*_amd64.deb)
    deb=${debs[0]}
    [[ -f $deb ]] || die "apt-get download blktrace: no .deb in $dir"
fi
log "blktrace for the guest from $(basename "$deb")"
rm -rf "$root" "$dir/x" && mkdir -p "$root/usr/sbin" "$root/usr/bin" "$dir/x"
dpkg-deb -x "$deb" "$dir/x"
bins=()
for b in usr/sbin/blktrace usr/bin/blkparse; do
    [[ -x $dir/x/$b ]] || die "$(basename "$deb") has no $b"
    cp "$dir/x/$b" "$root/$b"
    bins+=("$root/$b")
done
rm -rf "$dir/x"

# The libraries: every NEEDED entry, recursively, as the system resolves it.
interp=$(readelf -l "${bins[0]}" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
[[ -n $interp ]] || die "no program interpreter in ${bins[0]}"
mkdir -p "$root$(dirname "$interp")"
cp -L "$interp" "$root$interp"
for b in "${bins[@]}"; do
    ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
done | sort -u | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
touch "$root/.rrelay-done"
echo "$root"
