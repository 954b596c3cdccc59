#!/usr/bin/env bash
# shellcheck disable=SC2016 # the perl substitutions' $1 is perl's
# Turn the repository's sources into a patch series against the fetched
# kernel source (Debian's linux-source-7.2), in `git format-patch` form with
# a cover letter:
#
#   0001 rrelay: relay channels in Rust          kernel/rrelay/, include/linux/
#        rrelay.h and rrelay_compat.h, include/uapi/linux/rrelay.h, a Kconfig
#        entry (tristate, depends on RUST && DEBUG_FS) and the Makefiles
#   0002 blktrace: move onto rrelay              the include line of
#        include/linux/blktrace_api.h and `select RELAY` of BLK_DEV_IO_TRACE
#
# Nothing is stored twice: src/*.rs, src/*.h, src/rrelay_shim.c, include/rrelay.h,
# include/rrelay_compat.h and include/uapi/linux/rrelay.h are copied when the
# series is made, with the one change an in-tree build needs (`#include
# <rrelay.h>` becomes `#include <linux/rrelay.h>`). The out-of-tree Kbuild's
# `-I$(src)/include` has no in-tree equivalent because none is needed: the
# headers land in include/linux/, on the kernel's include path. The samples,
# the tests and include/rrelay.rs (the Rust API for out-of-tree client
# modules) stay out of the series.
#
# The series is made in a small scratch git repository holding only the
# kernel files it touches, so it is quick; author and dates come from the
# repository's last commit, so the same tree gives the same series.
#
# Usage: scripts/kernel-patches.sh [OUTDIR]   (default: target/kernel-patches)
# Prints OUTDIR. Apply with `git am OUTDIR/000[12]-*.patch` or
# `patch -p1 < ...` in a linux-source-7.2 tree.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=${1:-$RRELAY_ROOT/target/kernel-patches}
SRC=$("$RRELAY_ROOT/scripts/kernel.sh" source)
kver=$(cat "$SRC/../VERSION")

work=$(mktemp -d "${TMPDIR:-/tmp}/rrelay-patches.XXXXXX")
trap 'rm -rf "$work"' EXIT
g=$work/linux

# The kernel files the series changes, as the source has them.
modified=(init/Kconfig kernel/Makefile include/linux/blktrace_api.h kernel/trace/Kconfig)
for f in "${modified[@]}"; do
    [[ -f $SRC/$f ]] || die "kernel-patches: $SRC/$f is missing"
    mkdir -p "$g/$(dirname "$f")"
    cp "$SRC/$f" "$g/$f"
done

# Who and when: the repository's last commit (the series is reproducible).
ident() { git -C "$RRELAY_ROOT" log -1 --format="$1"; }
export GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_AUTHOR_DATE GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL GIT_COMMITTER_DATE
GIT_AUTHOR_NAME=$(ident %an) GIT_AUTHOR_EMAIL=$(ident %ae) GIT_AUTHOR_DATE=$(ident %ad)
GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL GIT_COMMITTER_DATE=$GIT_AUTHOR_DATE
rev=$(git -C "$RRELAY_ROOT" describe --always --dirty 2>/dev/null || echo unknown)
G() { git -C "$g" -c core.autocrlf=false -c commit.gpgsign=false "$@"; }
G init -q -b rrelay
G add -A && G commit -q -m "linux-source-7.2 $kver (the files this series touches)"
G tag pristine

# edit FILE PERL-EXPR CHECK-REGEX: a substitution that must take effect.
edit() {
    perl -0pi -e "$2" "$g/$1"
    grep -Eq "$3" "$g/$1" || die "kernel-patches: could not edit $1 (has the kernel source changed?)"
}

# Patch 1: rrelay itself.
mkdir -p "$g/kernel/rrelay" "$g/include/uapi/linux"
cp "$RRELAY_ROOT"/src/*.rs "$RRELAY_ROOT"/src/*.h "$RRELAY_ROOT/src/rrelay_shim.c" "$g/kernel/rrelay/"
cp "$RRELAY_ROOT/include/rrelay.h" "$RRELAY_ROOT/include/rrelay_compat.h" "$g/include/linux/"
cp "$RRELAY_ROOT/include/uapi/linux/rrelay.h" "$g/include/uapi/linux/rrelay.h"
edit kernel/rrelay/rrelay_shim.c 's/^#include <rrelay\.h>$/#include <linux\/rrelay.h>/m' '^#include <linux/rrelay\.h>$'
edit include/linux/rrelay_compat.h 's/^#include <rrelay\.h>$/#include <linux\/rrelay.h>/m' '^#include <linux/rrelay\.h>$'
if grep -rEn '^#include <rrelay(_compat)?\.h>' "$g"; then
    die "kernel-patches: an include of <rrelay.h> is left (see above); teach this script about it"
fi
[[ -f $g/kernel/rrelay/rrelay_main.rs ]] || die "kernel-patches: src/rrelay_main.rs is missing"

cat >"$g/kernel/rrelay/Kconfig" <<'EOF'
# SPDX-License-Identifier: GPL-2.0

config RRELAY
	tristate "Relay channels in Rust (rrelay)"
	depends on RUST && DEBUG_FS
	select IRQ_WORK
	help
	  rrelay provides relay channels (per-CPU buffers of sub-buffers
	  streamed to user space through debugfs files) written in Rust,
	  with a lockless write path usable from any context, NMI included,
	  and per-channel statistics under /sys/kernel/debug/rrelay/.

	  Its native API is <linux/rrelay.h>. A client of <linux/relay.h>
	  moves onto it by including <linux/rrelay_compat.h> instead; the
	  kernel's relay (CONFIG_RELAY) is independent and may be built too.

	  To compile this as a module, choose M here: the module will be
	  called rrelay.

	  If unsure, say N.

config RRELAY_KUNIT_TEST
	bool "KUnit tests for rrelay" if !KUNIT_ALL_TESTS
	depends on RRELAY && KUNIT
	default KUNIT_ALL_TESTS
	help
	  Builds rrelay's KUnit suites (sub-buffer arithmetic, statistics,
	  channels) into rrelay; they run at boot when rrelay is built in,
	  and when the module is loaded otherwise.

	  If unsure, say N.
EOF
cat >"$g/kernel/rrelay/Makefile" <<'EOF'
# SPDX-License-Identifier: GPL-2.0
#
# rrelay: the Rust crate rooted at rrelay_main.rs (its modules are the
# sibling .rs files) and a small C shim holding the symbol exports.

obj-$(CONFIG_RRELAY) += rrelay.o
rrelay-y := rrelay_main.o rrelay_shim.o
rustflags-$(CONFIG_RRELAY_KUNIT_TEST) += --cfg rrelay_kunit
EOF
edit init/Kconfig 's/(\nconfig RELAY\n(?:.*\n)*?\n\t  If unsure, say N\.\n)/$1\nsource "kernel\/rrelay\/Kconfig"\n/' '^source "kernel/rrelay/Kconfig"$'
edit kernel/Makefile 's/^(obj-\$\(CONFIG_RELAY\) \+= relay\.o\n)/$1obj-\$(CONFIG_RRELAY) += rrelay\/\n/m' '^obj-\$\(CONFIG_RRELAY\) \+= rrelay/$'
G add -A
G commit -q -F - <<EOF
rrelay: relay channels in Rust

Add rrelay, an implementation of relay channels (kernel/relay.c) in Rust,
with a C API in <linux/rrelay.h> and a compatibility header,
<linux/rrelay_compat.h>, that maps the <linux/relay.h> names onto it: an
existing relay client moves over by changing its include line and nothing
else.

Why: relay's write path takes no lock but is not safe against a writer
interrupting another writer of the same buffer (a hardirq or NMI writer
on top of a process-context one), so clients disable interrupts around
relay_write(); and relay loses data silently in overwrite mode. rrelay
keeps relay's semantics and file interface (read, poll, mmap, splice,
the subbuf_start/buf_mapped/create_buf_file callbacks, per-CPU and global
buffers, CPU hotplug) and differs where relay is hard to use correctly:

 - the write path is lockless and reentrant: a writer reserves room with
   a compare-and-exchange on the buffer's write state and commits by
   adding its length to the sub-buffer's commit count; readers take a
   sub-buffer only when every byte reserved in it is committed. Writers
   may run in any context, NMI included, with interrupts on;
 - every loss is counted: records dropped because the buffer was full
   (what relay_stats(RELAY_STATS_BUF_FULL) reports), records too big,
   sub-buffers overwritten, and sub-buffers a reader lost; the counts are
   in /sys/kernel/debug/rrelay/<channel>/stats and in a read-only meta
   page that mmap readers can map;
 - mmap readers get an ioctl protocol (<uapi/linux/rrelay.h>) that hands
   out whole finished sub-buffers, safe in overwrite mode.

How: the crate is kernel/rrelay/rrelay_main.rs with one file per concept
(the sub-buffer arithmetic, the write protocol, channels, buffers, files,
mmap, splice, wakeups, hotplug, statistics, the C ABI). A small C shim,
kernel/rrelay/rrelay_shim.c, wraps what Rust cannot reach and holds the
EXPORT_SYMBOL_GPL()s of the C API. CONFIG_RRELAY is a tristate that
depends on RUST and DEBUG_FS; it builds as a module or into the kernel,
and CONFIG_RELAY is unaffected (no symbol is shared).

Testing: on x86_64 with LLVM=$LLVM_SUFFIX and rustc $RRELAY_TOOLCHAIN, built into the
kernel (=y) and as a module (=m, with BLK_DEV_IO_TRACE off), and booted
under QEMU, where rrelay's KUnit suites pass at boot and at module load;
the module loads and unloads. The same sources build as the
out-of-tree module rrelay.ko, whose test suite compares it byte for byte
with relay on the same write sequences, runs writers in process,
softirq, hardirq and NMI context at once with every record accounted
for, and exercises every reader interface. The next patch runs blktrace
on it.

Generated from rrelay $rev.
EOF

# Patch 2: blktrace on rrelay, by its include line and its select.
edit include/linux/blktrace_api.h 's/^#include <linux\/relay\.h>$/#include <linux\/rrelay_compat.h>/m' '^#include <linux/rrelay_compat\.h>$'
edit kernel/trace/Kconfig 's/(\nconfig BLK_DEV_IO_TRACE\n(?:\t.*\n)*?)\tselect RELAY\n/$1\tselect RRELAY\n/' '^	select RRELAY$'
G add -A
G commit -q -F - <<EOF
blktrace: move onto rrelay

Make blktrace write its traces through rrelay instead of relay: its
include line becomes <linux/rrelay_compat.h>, which maps the relay API
onto rrelay's, and BLK_DEV_IO_TRACE selects RRELAY instead of RELAY.
Nothing else in blktrace changes.

Why: blktrace writes from the block layer's completion paths, which run
in interrupt context; on rrelay those writes are lockless and reentrant,
and the events it drops when a buffer is full are counted by rrelay as
well as reported through blktrace's "dropped" file, which reads
relay_stats(RELAY_STATS_BUF_FULL) as before.

The user interface is unchanged: the per-CPU trace files under
/sys/kernel/debug/block/<dev>/, their read() and poll(), and the
"dropped" and "msg" files. BLK_DEV_IO_TRACE is a bool, so the select
builds rrelay into the kernel. The kernel's relay stays available to
its other users.

Testing: x86_64, QEMU (TCG, 4 CPUs), null_blk. Debian's blktrace 1.2.0,
unmodified, traced 3000 direct 4 KiB reads and 3000 direct 4 KiB writes
to /dev/nullb0 on a kernel with this series and on the same kernel
without it (blktrace on relay); blkparse gave the same counts of queued,
dispatched and completed reads and writes on both, equal to the I/O
issued, with no event dropped. With a deliberately small buffer
(blktrace -b 4 -n 2) under heavy I/O, the dropped count blktrace printed
equalled rrelay's own count of dropped records for the channel.

Generated from rrelay $rev.
EOF

rm -rf "$out" && mkdir -p "$out"
G format-patch -q --cover-letter --no-signature -o "$out" pristine..HEAD >/dev/null
stat=$(G diff --stat=72 pristine HEAD)
cover=$(ls "$out"/0000-*.patch)
perl -0pi -e 's/\*\*\* SUBJECT HERE \*\*\*/rrelay: relay channels in Rust, and blktrace on them/' "$cover"
blurb=$(cat <<EOF
This series adds rrelay, relay channels (kernel/relay.c) written in Rust,
and moves blktrace onto it by changing one include line and one Kconfig
select.

rrelay keeps relay's semantics and debugfs file interface, and makes the
write path lockless and reentrant (writers in any context, NMI included,
with interrupts on) and every loss counted. <linux/rrelay_compat.h> maps
the relay API onto it, so a relay client moves over without other
changes (each of the kernel's relay client files compiles against it
unchanged), and blktrace, the second patch, runs on it.

Patch 1 adds rrelay under kernel/rrelay/, next to kernel/relay.c, with
its headers in include/linux/ and include/uapi/linux/ and CONFIG_RRELAY
(tristate, depends on RUST && DEBUG_FS), sourced from init/Kconfig after
CONFIG_RELAY. Patch 2 switches blktrace; since BLK_DEV_IO_TRACE is a
bool, rrelay is then built in.

Tested on x86_64 under QEMU with Debian's blktrace 1.2.0 and blkparse on
null_blk, against the same kernel without the series: the same counts on
both, see patch 2. The series is made from the rrelay repository
($rev) against Debian's linux-source-7.2 $kver.
EOF
)
BLURB=$blurb perl -0pi -e 's/\*\*\* BLURB HERE \*\*\*/$ENV{BLURB}/' "$cover"
grep -q '\*\*\* ' "$cover" && die "kernel-patches: cover letter placeholders left in $cover"
log "series for linux-source-7.2 $kver in $out:"
printf '%s\n' "$stat" | sed 's/^/    /' >&2
echo "$out"
