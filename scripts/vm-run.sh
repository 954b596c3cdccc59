#!/usr/bin/env bash
# Boot the cached test kernel under QEMU (TCG) with a busybox initramfs, run
# one command as root in the guest and return its exit status.
#
# Usage: scripts/vm-run.sh [options] [--] COMMAND...
#   --kernel base|debug|PATH  kernel variant, or a bzImage path (default base)
#   --add HOST[:GUEST]        put a file or directory into the guest; GUEST
#                             defaults to /opt/<basename>; repeatable
#   --timeout SECONDS         hard limit for the whole VM run (default 300)
#   --smp N / --mem MiB       guest CPUs (default 4) and memory (default 1024)
#   --log FILE                kernel console log (default: a temporary file)
#   --out FILE                also keep the command's output here
#   --append ARGS             extra kernel command line
#   --allow-splat             do not fail on kernel warnings (runner tests only)
#   --icount                  deterministic time: -icount shift=0,sleep=off, so
#                             a guest nanosecond is one instruction executed
#
# The command's stdout and stderr come out on this script's stdout (they
# travel over the guest's second serial port, apart from kernel messages).
# The run fails on a timeout, a missing exit status (crash), or any oops,
# panic, BUG, WARNING, KASAN, lockdep, refcount, list, debug-object,
# kmemleak, RCU stall, hung task or lockup report in the kernel log
# (SPLAT_RE in scripts/lib.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kernel=base timeout=300 smp=4 mem=1024 log= out= append= allow_splat=0 icount=()
adds=()
while (($#)); do
    case $1 in
        --kernel) kernel=$2; shift 2 ;;
        --add) adds+=("$2"); shift 2 ;;
        --timeout) timeout=$2; shift 2 ;;
        --smp) smp=$2; shift 2 ;;
        --mem) mem=$2; shift 2 ;;
        --log) log=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --append) append=$2; shift 2 ;;
        --allow-splat) allow_splat=1; shift ;;
        --icount) icount=(-icount shift=0,sleep=off); shift ;;
        --) shift; break ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "vm-run: unknown option $1" ;;
        *) break ;;
    esac
done
(($#)) || die "vm-run: no command given (try --help)"

if [[ -f $kernel ]]; then
    bzimage=$kernel
else
    kdir=$("$RRELAY_ROOT/scripts/kernel.sh" "$kernel")
    bzimage=$kdir/arch/x86/boot/bzImage
fi
[[ -f $bzimage ]] || die "vm-run: no kernel image at $bzimage"

work=$(mktemp -d "${TMPDIR:-/tmp}/rrelay-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
[[ -n $log ]] || log=$work/console.log
root=$work/root
mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp,opt,modules,root}
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

busybox=$(command -v busybox || true)
[[ -x /bin/busybox ]] && busybox=/bin/busybox
file "$busybox" 2>/dev/null | grep -q 'statically linked' || busybox=/bin/busybox
[[ -x $busybox ]] || die "vm-run: busybox-static is not installed (run scripts/bootstrap.sh)"
cp "$busybox" "$root/bin/busybox"

for a in "${adds[@]}"; do
    src=${a%%:*}
    dst=/opt/$(basename "$src")
    [[ $a == *:* ]] && dst=${a#*:}
    [[ -e $src ]] || die "vm-run: --add $src: no such file"
    if [[ -d $src ]]; then
        mkdir -p "$root$dst" && cp -a "$src/." "$root$dst/"
    else
        mkdir -p "$root$(dirname "$dst")" && cp -a "$src" "$root$dst"
    fi
done

printf '%s\n' "$*" >"$root/run.sh"
cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/opt:/opt/bin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp
stty -F /dev/ttyS1 raw -echo 2>/dev/null
cd /root
sh /run.sh </dev/null >/dev/ttyS1 2>&1
echo "RRELAY-VM-EXIT=$?" >/dev/ttyS1
sync
reboot -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) >"$work/initramfs.cpio"

cmdline="console=ttyS0 panic=-1 oops=panic mitigations=off nokaslr tsc=unstable $append"
set +e
timeout -k 5 "$timeout" qemu-system-x86_64 -accel tcg "${icount[@]}" -smp "$smp" -m "$mem" \
    -nodefaults -display none -no-reboot \
    -kernel "$bzimage" -initrd "$work/initramfs.cpio" -append "$cmdline" \
    -serial "file:$log" -serial stdio </dev/null | tr -d '\r' | tee "$work/out.log" | grep -v '^RRELAY-VM-EXIT='
qemu_rc=${PIPESTATUS[0]}
set -e
[[ -n $out ]] && grep -v '^RRELAY-VM-EXIT=' "$work/out.log" >"$out"

fail() { printf 'vm-run: %s (kernel log: %s)\n' "$*" "$log" >&2; }
if [[ $log == $work/* ]]; then
    # Keep the log of a failed run for the user; the work dir is removed.
    keep=${TMPDIR:-/tmp}/rrelay-vm-last-console.log
    cp "$log" "$keep"; log=$keep
fi

if ((allow_splat == 0)) && grep -Eq "$SPLAT_RE" "$log"; then
    fail "kernel reported a problem:"
    grep -E -m 5 "$SPLAT_RE" "$log" | sed 's/^/    /' >&2
    exit 99
fi
if ((qemu_rc == 124 || qemu_rc == 137)); then
    fail "guest did not finish within ${timeout}s"
    exit 98
fi
rc=$(sed -n 's/^RRELAY-VM-EXIT=\([0-9]*\)$/\1/p' "$work/out.log" | tail -n1)
if [[ -z $rc ]]; then
    fail "guest ended without an exit status (crash?); qemu exit $qemu_rc"
    tail -n 20 "$log" | sed 's/^/    /' >&2
    exit 97
fi
exit "$rc"
