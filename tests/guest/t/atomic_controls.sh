# The controls relay clients call in atomic context (mt7915/mt7996 call
# relay_flush() under spin_lock_irqsave(), ath11k on its data path):
# rrelay's flush, stats, buf_full and subbufs_consumed, through
# rrelay_compat.h, under a spinlock with interrupts off and from hardirq
# (an IPI). On the debug kernel (DEBUG_ATOMIC_SLEEP, lockdep) a sleep there
# is a splat, which fails the run.
. /opt/lib/tap.sh
R=/opt/bin/rrelay
T=/sys/kernel/debug/rrelay_test_client
plan 5
grep -q '^rrelay ' /proc/modules || insmod /opt/modules/rrelay.ko
insmod /opt/modules/rrelay_test_client.ko default_files=1 subbuf_size=256 n_subbufs=4
# cpu0 FIELD: a figure of CPU 0's buffer from `rrelay stat`.
cpu0() { $R stat buf | awk -v f=$1 '$1 == "buf" && $2 == 0 { print $f }'; }
taskset -c 0 sh -c "echo 'write 100 1' >$T/ctl"
check "before: CPU 0 has finished nothing, released nothing" test "$(cpu0 3) $(cpu0 4)" = "0 0"
check "atomic controls run (under a spinlock, then in hardirq)" sh -c "echo atomic >$T/ctl"
# Two flushes (the 100-byte sub-buffer, then an empty one), two releases.
check "the flushes finished two sub-buffers of CPU 0 ($(cpu0 3))" test "$(cpu0 3)" = 2
check "subbufs_consumed released both ($(cpu0 4))" test "$(cpu0 4)" = 2
check "unload" sh -c "rmmod rrelay_test_client && rmmod rrelay"
done_testing
