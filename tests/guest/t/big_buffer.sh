# A 1 GiB buffer: open (the page array is kvmalloc'ed: 2 MiB of page
# pointers), fill to the brim with the producer then stopped (the bench
# module's "fill": 1 KiB records into 64 KiB sub-buffers, no overwrite),
# mmap it and drain it all by the sub-buffer protocol, every byte
# accounted for; then close and unload with nothing left behind.
. /opt/lib/tap.sh
R=/opt/bin/rrelay
B=/sys/kernel/debug/rrelay_bench
gib=1073741824
plan 5
grep -q '^rrelay ' /proc/modules || insmod /opt/modules/rrelay.ko
insmod /opt/modules/rrelay_bench.ko
check "a 1 GiB global buffer opens and fills (16384 sub-buffers of 64 KiB)" \
    sh -c "echo 'fill rrelay 1024' >$B/ctl"
set -- $($R stat rfill | awk '$1 == "rfill" { print $3, $5, $9 + $8 }')
check "the kernel counts 1 GiB written in 16384 sub-buffers, nothing dropped ($*)" \
    test "$*" = "16384 $gib 0"
# To /dev/null: the drain, not a copy of 1 GiB through a pipe, is tested.
$R record -d $B -b rfill -o - -m mmap --drain --json >/dev/null 2>/tmp/big.json
got=$(sed -n 's/^  "bytes": \([0-9]*\),/\1/p' /tmp/big.json)
check "mmap drains all of it ($got bytes)" test "$got" = $gib
sed 's/^/# /' /tmp/big.json | grep -E '"(mode|seconds|mb_per_s)"'
set -- $($R stat rfill | awk '$1 == "rfill" { print $4, $6, $11 }')
check "and the kernel agrees: 16384 sub-buffers consumed, 1 GiB read, none lost ($*)" \
    test "$*" = "16384 $gib 0"
echo close >$B/ctl
check "the channel closes and the modules unload" sh -c "rmmod rrelay_bench && rmmod rrelay"
done_testing
