# Bad input and hostile use from user space: many readers at once on the
# same buffers, a reader killed in the middle of splice, an unprivileged
# user, opening files of a closed channel.
. /opt/lib/tap.sh
R=/opt/bin/rrelay
S=/sys/kernel/debug/rrelay_sample
plan 10
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
# Every record written was read once, or counted dropped by the writer
# (an interrupt that lands where its CPU's writer just finished a
# sub-buffer drops its record: README, "Where rrelay differs"): nothing
# missing in a stream, nothing lost (written - dropped - received).
check "8 concurrent readers: every record written was read exactly once or counted dropped" \
    awk 'NR > 2 && ($4 != 0 || $8 != 0) { bad = 1 } END { exit bad }' /tmp/many.dec

# A splice reader killed mid-run: it was running, with the buffer files
# open, and had spliced data out; SIGKILL ends it, the kernel releases its
# files and stays sound, and a new reader continues with intact records
# (what the killed reader had spliced into its pipe went with it).
# References to rrelay.ko: one per open buffer file, one per client module.
refs() { awk '$1 == "rrelay" { print $3 }' /proc/modules; }
echo start >$S/control
refs_before=$(refs)
$R record -d $S -b sample -o /tmp/killed -m splice >/dev/null 2>&1 &
victim=$!
sleep 1.5
alive=0
kill -0 $victim 2>/dev/null && alive=1
refs_during=$(refs)
kill -9 $victim
wait $victim 2>/dev/null
status=$?
spliced=$(cat /tmp/killed/sample* 2>/dev/null | wc -c)
check "the splice reader was running, with 4 files open and $spliced bytes out, when killed" \
    test "$alive" = 1 -a "$refs_during" -ge $((refs_before + 4)) -a "$spliced" -gt 0
check "SIGKILL ended it (wait status $status) and its files were released (refs $refs_before, $refs_during, $(refs))" \
    test "$status" = 137 -a "$(refs)" = "$refs_before"
$R record -d $S -b sample -o /tmp/after -m splice >/dev/null 2>&1 &
next=$!
sleep 1
echo stop >$S/control
kill -INT $next
wait $next
$R decode /tmp/after --limit 0 >/tmp/after.dec 2>&1
status=$?
records=$(awk '/ records, / { print $1 }' /tmp/after.dec)
check "the next reader's records are intact and in order (status $status)" test "$status" = 0
check "... and there are some ($records records, none corrupt)" \
    sh -c "grep -q '^[1-9][0-9]* records, 0 corrupt' /tmp/after.dec"
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
