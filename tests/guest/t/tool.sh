# The rrelay tool against live channels: stat (table, JSON, errors) and cat
# (rrelay's files and the kernel's own relay files).
. /opt/lib/tap.sh
R=/opt/bin/rrelay
C=/sys/kernel/debug/rrelay_test_client
K=/sys/kernel/debug/relay_test_client
plan 15
grep -q '^rrelay ' /proc/modules && rmmod rrelay
check_fails "stat without rrelay loaded fails" $R stat
check "... with a one-line message naming the cause" sh -c "$R stat 2>&1 | grep -q 'is debugfs mounted'"
insmod /opt/modules/rrelay.ko
insmod /opt/modules/rrelay_test_client.ko default_files=1
insmod /opt/modules/relay_test_client.ko
for c in $C $K; do taskset -c 1 sh -c "echo 'write 100 6' > $c/ctl"; echo flush > $c/ctl; done
check "stat shows the channel's buffers" sh -c "$R stat buf | grep -q 'buf .* 1 .* 600 '"
check "stat --json reports the geometry" sh -c "$R stat --json | grep -q '\"subbuf_size\": 256'"
check_fails "stat of an unknown channel fails" $R stat nosuch
# cat_bytes N ARGS...: `rrelay cat ARGS` succeeds and prints N bytes.
cat_bytes() { n=$1; shift; $R cat "$@" >/tmp/cat.out && test "$(wc -c </tmp/cat.out)" = "$n"; }
check "cat drains rrelay's files (600 bytes)" cat_bytes 600 -d $C -b buf
check "cat drains the kernel relay's files (600 bytes)" cat_bytes 600 -d $K -b buf
# --cpu: 200 bytes on CPU 1 and 300 on CPU 0; cat takes exactly one buffer.
taskset -c 1 sh -c "echo 'write 100 2' > $C/ctl"
taskset -c 0 sh -c "echo 'write 100 3' > $C/ctl"
echo flush >$C/ctl
check "cat --cpu 1 takes CPU 1's buffer only (200 bytes)" cat_bytes 200 -d $C -b buf --cpu 1
check "cat --cpu 1 again: that buffer is now empty (0 bytes, exit 0)" cat_bytes 0 -d $C -b buf --cpu 1
check "cat --cpu 0 takes CPU 0's (300 bytes)" cat_bytes 300 -d $C -b buf --cpu 0
check_fails "cat --cpu of a CPU with no buffer fails" $R cat -d $C -b buf --cpu 7
check "cat of a missing directory fails naming it" sh -c "$R cat -d /nonexistent -b x 2>&1 | grep -q '^rrelay: /nonexistent'"

# A CPU that comes online while recording gets its file recorded too.
echo close >$C/ctl
echo 0 >/sys/devices/system/cpu/cpu3/online
echo open >$C/ctl
$R record -d $C -b buf -o /tmp/rec-hp -m read --duration 4 >/dev/null 2>&1 &
rec=$!
sleep 1
echo 1 >/sys/devices/system/cpu/cpu3/online
sleep 1.5
taskset -c 3 sh -c "echo 'write 100 2' > $C/ctl"
echo flush >$C/ctl
wait $rec
check "record picks up the file of a CPU that came online" test "$(cat /tmp/rec-hp/buf3 | wc -c)" = 200

# A full output disk: a one-line error naming the file, exit 1.
mkdir -p /tmp/small && mount -t tmpfs -o size=4k tmpfs /tmp/small
for cpu in 0 1 2; do taskset -c $cpu sh -c "echo 'write 100 8' > $C/ctl"; done
echo flush >$C/ctl
check_fails "record onto a full disk fails" $R record -d $C -b buf -o /tmp/small/rec -m read --drain
check "... saying which file and why" sh -c "$R record -d $C -b buf -o /tmp/small/rec2 -m read --drain 2>&1 | grep -q '^rrelay: /tmp/small/rec2/buf.: No space left on device'"
umount /tmp/small
rmmod rrelay_test_client
rmmod relay_test_client
done_testing
