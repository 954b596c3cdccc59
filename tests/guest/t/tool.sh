# The rrelay tool against live channels: stat (table, JSON, errors) and cat
# (rrelay's files and the kernel's own relay files).
. /opt/lib/tap.sh
R=/opt/bin/rrelay
C=/sys/kernel/debug/rrelay_test_client
K=/sys/kernel/debug/relay_test_client
plan 9
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
check "cat drains rrelay's files (600 bytes)" sh -c "test \$($R cat -d $C -b buf | wc -c) = 600"
check "cat drains the kernel relay's files (600 bytes)" sh -c "test \$($R cat -d $K -b buf | wc -c) = 600"
check "cat --cpu 1 picks one buffer (now empty)" sh -c "test \$($R cat -d $C -b buf --cpu 1 | wc -c) = 0"
check "cat of a missing directory fails naming it" sh -c "$R cat -d /nonexistent -b x 2>&1 | grep -q '^rrelay: /nonexistent'"
rmmod rrelay_test_client
rmmod relay_test_client
done_testing
