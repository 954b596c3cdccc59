# Stress, in the guest: DURATION seconds of everything at once, then every
# record verified. Run by `make stress` and (bounded) by `make check-debug`.
#   - the Rust sample: per-CPU, overwrite, 4 KiB buffers (the read()
#     recorder falls behind: records are lost, and counted);
#   - the C sample: per-CPU, no-overwrite (reserve under irq off), 2 KiB
#     buffers (records are dropped, and counted), mmap recorder;
#   - a churn channel: open, write, flush, splice, reset, close in a loop,
#     its file held open across the close;
#   - CPUs 3 and 2 taken offline and back online in a loop;
#   - `rmmod rrelay` attempted every half second: it must fail.
# Every step of the hotplug and churn loops must succeed (a failed step is
# logged and fails the test). Accounting is exact, per stream: in
# no-overwrite mode received + dropped == written for every (CPU, context),
# and the drops the producer saw are the kernel's; in overwrite mode the
# records neither received nor dropped are exactly the kernel's lost
# sub-buffers times the 16 records (64 bytes, 1024-byte sub-buffers) each
# held.
. /opt/lib/tap.sh
d=${1:-30}
R=/opt/bin/rrelay
S=/sys/kernel/debug/rrelay_sample
C=/sys/kernel/debug/c_relay_sample
T=/sys/kernel/debug/rrelay_test_client
CPU=/sys/devices/system/cpu
plan 14
grep -q '^rrelay ' /proc/modules || insmod /opt/modules/rrelay.ko
insmod /opt/modules/rust_relay_sample.ko rate=2000 overwrite=1 subbuf_size=1024 n_subbufs=4
insmod /opt/modules/c_relay_sample.ko subbuf_size=1024 n_subbufs=2
insmod /opt/modules/rrelay_test_client.ko default_files=1
rm -rf /tmp/st-*

$R record -d $S -b sample -o /tmp/st-s -m read --wait 10 >/tmp/st-s.sum 2>&1 &
rec_s=$!
$R record -d $C -b trace -o /tmp/st-c -m mmap --wait 10 >/tmp/st-c.sum 2>&1 &
rec_c=$!
echo start >$S/control
echo start >$C/control
end=$(($(date +%s) + d))

# step WHAT CMD...: run CMD; a failure is logged in /tmp/st-errors.
step() {
    what=$1; shift
    "$@" >/tmp/st-step.$$ 2>&1 || { echo "$what: $* failed: $(head -c 200 /tmp/st-step.$$)" >>/tmp/st-errors; return 1; }
}
: >/tmp/st-errors

(
    n=0
    while [ "$(date +%s)" -lt $end ]; do
        for c in 3 2; do
            step hotplug sh -c "echo 0 >$CPU/cpu$c/online" &&
                step hotplug sh -c "echo 1 >$CPU/cpu$c/online" && n=$((n + 1))
        done
    done
    echo $n >/tmp/st-hotplug
) &
hotplug=$!

(
    n=0
    while [ "$(date +%s)" -lt $end ]; do
        exec 3<$T/buf0
        for c in 0 1; do step churn taskset -c $c sh -c "echo 'write 100 30' > $T/ctl"; done
        step churn sh -c "echo flush >$T/ctl"
        rm -rf /tmp/st-t
        step churn $R record -d $T -b buf -o /tmp/st-t -m splice --drain
        # 30 records of 100 bytes on each of CPUs 0 and 1 (never taken
        # offline), in 4 sub-buffers of 256 bytes: 8 fit per CPU, the rest
        # are dropped.
        step churn sh -c "test \$(cat /tmp/st-t/buf* | wc -c) = 1600"
        step churn sh -c "echo reset >$T/ctl"
        step churn taskset -c 0 sh -c "echo 'write 50 10' > $T/ctl"
        step churn sh -c "echo close >$T/ctl"
        # The closed channel's file still reads its last 500 bytes.
        step churn sh -c "test \$(cat <&3 | wc -c) = 500"
        exec 3<&-
        step churn sh -c "echo open >$T/ctl"
        n=$((n + 1))
    done
    echo $n >/tmp/st-churn
) &
churn=$!

(
    n=0 f=0
    while [ "$(date +%s)" -lt $end ]; do
        rmmod rrelay 2>/dev/null && f=$((f + 1))
        n=$((n + 1))
        sleep 0.5
    done
    echo "$n $f" >/tmp/st-rmmod
) &
rmm=$!

wait $hotplug $churn $rmm
echo stop >$S/control
echo stop >$C/control
cat $S/counts >/tmp/st-s.counts
cat $C/counts >/tmp/st-c.counts
dropped_c=$($R stat trace | awk '$1 == "trace" { d += $9 } END { print d + 0 }')
lost_s=$($R stat sample | awk '$1 == "sample" { l += $11 } END { print l + 0 }')
dropped_s=$($R stat sample | awk '$1 == "sample" { d += $9 } END { print d + 0 }')
kill -INT $rec_s $rec_c
wait $rec_s
wait $rec_c

check "CPU hotplug cycles survived: $(cat /tmp/st-hotplug)" test "$(cat /tmp/st-hotplug)" -gt 0
check "every CPU is online again" test "$(cat $CPU/online)" = "0-3"
check "channel churn rounds (open, write, flush, splice, reset, close while open): $(cat /tmp/st-churn)" \
    test "$(cat /tmp/st-churn)" -gt 0
check "no step of the hotplug and churn loops failed" test ! -s /tmp/st-errors
sed 's/^/# /' /tmp/st-errors | head -n 10
set -- $(cat /tmp/st-rmmod)
check "rmmod rrelay refused while in use ($1 attempts)" test "$2" = 0

# No-overwrite (C sample): intact, and received + dropped == written.
check "no-overwrite: nothing corrupt, duplicated or reordered; per stream received + dropped == written" \
    sh -c "$R decode /tmp/st-c --expect /tmp/st-c.counts --exact --limit 0 >/tmp/st-c.dec 2>&1"
sed 's/^/# /' /tmp/st-c.dec | tail -n 1
seen_c=$(awk '{ d += $4 } END { print d + 0 }' /tmp/st-c.counts)
set -- $(awk 'NR > 2 { r += $3; w += $5 } END { print r + 0, w + 0 }' /tmp/st-c.dec)
diag "no-overwrite: $2 records written, $1 received intact, $dropped_c dropped (counted)"
check "no-overwrite: the kernel dropped what the producer saw refused ($dropped_c == $seen_c)" \
    test "$dropped_c" = "$seen_c"
check "no-overwrite: received + dropped == written in all ($1 + $dropped_c == $2)" test $(($1 + dropped_c)) = $2
check "no-overwrite: records flowed in every context of every CPU" \
    awk 'NR > 2 && $3 == 0 { bad = 1 } NR > 2 { n++ } END { exit bad || n != 12 }' /tmp/st-c.dec

# Overwrite (Rust sample): intact, in order, received + lost == written.
check "overwrite: nothing corrupt, duplicated or reordered; lost records == $lost_s sub-buffers x 16" \
    sh -c "$R decode /tmp/st-s --expect /tmp/st-s.counts --lost-records $((lost_s * 16)) --limit 0 >/tmp/st-s.dec 2>&1"
sed 's/^/# /' /tmp/st-s.dec | tail -n 1
set -- $(awk 'NR > 2 { r += $3; l += $8; w += $5 } END { print r + 0, l + 0, w + 0 }' /tmp/st-s.dec)
diag "overwrite: $3 records written, $1 received intact, $2 lost (the kernel counted $lost_s sub-buffers lost)"
seen_s=$(awk '{ d += $4 } END { print d + 0 }' /tmp/st-s.counts)
check "overwrite: the kernel dropped what the producer saw refused ($dropped_s == $seen_s)" \
    test "$dropped_s" = "$seen_s"
check "overwrite: records flowed in every context of every CPU" \
    awk 'NR > 2 && $3 == 0 { bad = 1 } NR > 2 { n++ } END { exit bad || n != 12 }' /tmp/st-s.dec
total=$(cat /tmp/st-s.dec /tmp/st-c.dec | awk '$2 ~ /process|softirq|hardirq/ { w += $5; r += $3 } END { print w + 0, r + 0 }')
diag "stress figures: written and received intact (both channels): $total; hotplug cycles $(cat /tmp/st-hotplug); churn rounds $(cat /tmp/st-churn)"

check "unload the samples and the churn client" sh -c "rmmod rust_relay_sample && rmmod c_relay_sample && rmmod rrelay_test_client"
check "then rrelay unloads" rmmod rrelay
done_testing
