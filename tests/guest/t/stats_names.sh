# The statistics view (src/stats.rs): a channel opened while another of the
# same base name is being closed must still get its <debugfs>/rrelay/<name>/
# stats (tests/modules/rrelay_stats_names.c counts the rounds where it did
# not). 300 rounds: before the fix about 2% of rounds lost the statistics;
# the race itself (the new channel finding the old one's directory still
# there, so taking <base>.1) must have happened in some rounds, or the test
# proved nothing.
. /opt/lib/tap.sh
plan 1
grep -q '^rrelay ' /proc/modules || insmod /opt/modules/rrelay.ko
insmod /opt/modules/rrelay_stats_names.ko rounds=${STATS_NAMES_ROUNDS:-300}
line=$(dmesg | grep 'rrelay_stats_names:' | tail -1)
rmmod rrelay_stats_names
diag "$line"
raced=$(echo "$line" | sed -n 's/.*rrelay_stats_names: \([0-9]*\) .*/\1/p')
missing=$(echo "$line" | awk '{ print $(NF-3) }')
if [ "$missing" = 0 ] && [ "${raced:-0}" -gt 0 ]; then
    ok "every channel has its stats ($raced rounds raced a close)"
else
    not_ok "channels without stats, or no round raced a close: $line"
fi
done_testing
