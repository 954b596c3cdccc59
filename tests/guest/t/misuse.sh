# Bad input and hostile use from user space: many readers at once on the
# same buffers, a reader killed in the middle of splice, an unprivileged
# user, opening files of a closed channel.
. /opt/lib/tap.sh
R=/opt/bin/rrelay
S=/sys/kernel/debug/rrelay_sample
plan 8
grep -q '^rrelay ' /proc/modules || insmod /opt/modules/rrelay.ko

# Eight readers race for the same four buffers while the producer runs:
# every record goes to exactly one of them.
insmod /opt/modules/rust_relay_sample.ko rate=1000
rm -rf /tmp/many && mkdir -p /tmp/many
echo start >$S/control
pids=
for r in 0 1 2 3 4 5 6 7; do
    (
        end=$(($(date +%s) + 3))
        n=0
        while [ "$(date +%s)" -lt $end ]; do
            cpu=$(((r + n) % 4))
            cat $S/sample$cpu >>/tmp/many/r$r.$cpu
            n=$((n + 1))
        done
    ) &
    pids="$pids $!"
done
wait $pids
echo stop >$S/control
for cpu in 0 1 2 3; do cat $S/sample$cpu >/tmp/many/final.$cpu; done
cat $S/counts >/tmp/many.counts
$R decode /tmp/many --expect /tmp/many.counts --limit 0 >/tmp/many.dec 2>&1
check "8 concurrent readers: nothing corrupt, duplicated or reordered" test $? = 0
check "8 concurrent readers: every record written was read exactly once" \
    awk 'NR > 2 && ($4 != 0 || $6 != 0) { bad = 1 } END { exit bad }' /tmp/many.dec

# A splice reader killed mid-run: the kernel stays sound, a new reader
# continues with intact records (what the killed reader had spliced into its
# pipe went with it).
echo start >$S/control
$R record -d $S -b sample -o /tmp/killed -m splice >/dev/null 2>&1 &
victim=$!
sleep 1.5
kill -9 $victim
wait $victim 2>/dev/null
check "a reader killed by SIGKILL mid-splice is gone" sh -c "! kill -0 $victim 2>/dev/null"
$R record -d $S -b sample -o /tmp/after -m splice >/dev/null 2>&1 &
next=$!
sleep 1
echo stop >$S/control
kill -INT $next
wait $next
$R decode /tmp/after --limit 0 >/tmp/after.dec 2>&1
check "the next reader's records are intact and in order" test $? = 0
rmmod rust_relay_sample

# An unprivileged user cannot open a buffer file (mode 0400, root), even
# where debugfs itself is open to all.
insmod /opt/modules/rrelay_test_client.ko default_files=1
mount -o remount,mode=0755 /sys/kernel/debug
check "nobody can reach debugfs here" su -s /bin/sh nobody -c "ls /sys/kernel/debug/rrelay_test_client/buf0"
check_fails "nobody cannot open a buffer file" su -s /bin/sh nobody -c "cat /sys/kernel/debug/rrelay_test_client/buf0"
mount -o remount,mode=0700 /sys/kernel/debug

# The files of a closed channel are gone.
echo close >/sys/kernel/debug/rrelay_test_client/ctl
check_fails "opening a file of a closed channel fails" cat /sys/kernel/debug/rrelay_test_client/buf0
check "and reading the closed channel's stats fails too" sh -c "! cat /sys/kernel/debug/rrelay/buf/stats 2>/dev/null"
rmmod rrelay_test_client
done_testing
