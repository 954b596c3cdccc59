# The rrelay tool's command line against live channels: the default mode
# (mmap) on rrelay's files, and on the kernel's own relay files (read()
# takes over, said once), errors as one line, a closed pipe, channels named as rrelay's
# statistics name them, --bytes (suffixes, an exact limit in every mode),
# the output directory (refused when not empty, --force, `-` for stdout),
# limits of 0 refused, and what decode decodes (sample records only,
# counted from the first one seen).
#
# The same client runs on rrelay (rrelay_test_client.ko) and on the
# kernel's relay (relay_test_client.ko); fed the same writes, both give the
# same bytes, so the kernel's relay is the oracle for rrelay's recordings.
. /opt/lib/tap.sh
R=/opt/bin/rrelay
C=/sys/kernel/debug/rrelay_test_client
K=/sys/kernel/debug/relay_test_client
S=/sys/kernel/debug/rrelay_sample
plan 47
grep -q '^rrelay ' /proc/modules || insmod /opt/modules/rrelay.ko
insmod /opt/modules/rrelay_test_client.ko default_files=1 subbuf_size=4096 n_subbufs=8
insmod /opt/modules/relay_test_client.ko subbuf_size=4096 n_subbufs=8
mkdir -p /tmp/cli && cd /tmp/cli || exit 1

# both CPU LEN N: the same N records of LEN bytes on CPU, on both clients,
# numbered from 0, and flushed. The kernel's client is loaded afresh: its
# relay hands out a sub-buffer twice once an empty buffer has been flushed
# twice (here, the other CPUs' buffers at each flush).
both() {
    rmmod relay_test_client
    insmod /opt/modules/relay_test_client.ko subbuf_size=4096 n_subbufs=8
    for c in $C $K; do
        echo "seq 0" >$c/ctl
        taskset -c "$1" sh -c "echo 'write $2 $3' > $c/ctl"
        echo flush >$c/ctl
    done
}
# drain_both: empty both clients' buffers.
drain_both() { $R cat buf >/dev/null && $R cat -d $K -b buf >/dev/null; }
# one_line FILE PATTERN: FILE is exactly one line, matching PATTERN (grep),
# without an "(os error N)" tail.
one_line() {
    test "$(wc -l <"$1")" = 1 && grep -q "$2" "$1" && ! grep -q 'os error' "$1" ||
        { sed 's/^/# got: /' "$1"; return 1; }
}

# --- The default mode on the kernel's relay (no rrelay ioctls, so no
# mapping): read() takes over, said once.
both 2 100 5
taskset -c 1 sh -c "echo 'write 100 3' > $K/ctl"
echo flush >$K/ctl
check "default mode records the kernel's relay files (exit 0)" \
    sh -c "$R record -d $K -b buf -o /tmp/k1 --drain >/tmp/k1.sum 2>/tmp/k1.err"
check "... all 800 bytes, CPU 2's the same as rrelay's" \
    sh -c "test \$(cat /tmp/k1/buf* | wc -c) = 800 && $R cat buf --cpu 2 | cmp - /tmp/k1/buf2"
check "... saying once, for its 4 files, that read() took over from the mapping" \
    one_line /tmp/k1.err "^rrelay: $K/buf[0-9]: cannot map it (.*); reading with read() instead\$"
check "... and the summary names read mode" grep -q 'read mode: the files cannot be mapped' /tmp/k1.sum
check "... and has no kernel counts (rrelay's buf, the same base name, is another channel)" \
    grep -q '^kernel counts: not available' /tmp/k1.sum
both 2 100 5
check "on rrelay's files the default mode maps them, silently" \
    sh -c "$R record buf -o /tmp/c1 --drain >/tmp/c1.sum 2>/tmp/c1.err && test ! -s /tmp/c1.err &&
        grep -q '(.* mmap mode)' /tmp/c1.sum && cmp /tmp/c1/buf2 /tmp/k1/buf2"
check_fails "an explicit -m mmap still refuses the kernel's files" \
    $R record -d $K -b buf -o /tmp/k2 -m mmap --drain
$R record -d $K -b buf -o /tmp/k3 -m mmap --drain 2>/tmp/k3.err
check "... in one line naming why" \
    one_line /tmp/k3.err "^rrelay: $K/buf0: not an rrelay buffer file (mmap mode needs rrelay's ioctls: "
drain_both

# --- Errors: one line, no "(os error N)".
$R record -d /nonexistent -b x -o /tmp/e1 --drain 2>/tmp/e1.err
check "a missing directory: exactly 'rrelay: /nonexistent: No such file or directory'" \
    test "$(cat /tmp/e1.err)" = "rrelay: /nonexistent: No such file or directory"
mkdir -p /tmp/small && mount -t tmpfs -o size=4k tmpfs /tmp/small
taskset -c 0 sh -c "echo 'write 100 80' > $C/ctl"
echo flush >$C/ctl
$R record buf -o /tmp/small/rec -m read --drain 2>/tmp/e2.err
check "a full disk: one line naming the file and the cause" \
    one_line /tmp/e2.err '^rrelay: /tmp/small/rec/buf0: No space left on device$'
umount /tmp/small
drain_both

# --- A closed pipe ends the program quietly, exit status 0.
( timeout 20 $R stat --watch 0.1; echo $? >/tmp/p1.status ) 2>/tmp/p1.err | head -n 1 >/tmp/p1.out
check "stat --watch | head -n 1: rrelay exits 0 ($(cat /tmp/p1.status))" test "$(cat /tmp/p1.status)" = 0
check "... silently, after head printed the header" \
    sh -c "test ! -s /tmp/p1.err && grep -q '^channel  *cpu  *produced' /tmp/p1.out"

# --- A channel by its name in rrelay's statistics.
check "the stats view names the files' directory" grep -qx 'dir /rrelay_test_client' /sys/kernel/debug/rrelay/buf/stats
check "stat shows it" sh -c "$R stat buf | grep -q ' buffer files $C/buf<cpu>\$'"
check "stat --json too" sh -c "$R stat buf --json | grep -q '\"dir\": \"$C\"'"
both 3 100 4
check "record CHANNEL finds the files (400 bytes, as the kernel's relay has them)" \
    sh -c "$R record buf -o /tmp/r1 --drain >/tmp/r1.sum && $R cat -d $K -b buf --cpu 3 | cmp - /tmp/r1/buf3"
check "... and the kernel's counts" grep -q '^kernel counted: 0 writes dropped' /tmp/r1.sum
both 1 100 3
check "cat CHANNEL --cpu 1 (300 bytes, the same as the kernel's relay)" \
    sh -c "$R cat buf --cpu 1 >/tmp/cat1 && test \$(wc -c </tmp/cat1) = 300 && $R cat -d $K -b buf --cpu 1 | cmp - /tmp/cat1"
check "record of an unknown channel fails (exit 1)" sh -c "$R record nosuch -o /tmp/r2 --drain 2>/dev/null; test \$? = 1"
$R record nosuch -o /tmp/r3 --drain 2>/tmp/r3.err
check "... saying so in one line" \
    one_line /tmp/r3.err '^rrelay: /sys/kernel/debug/rrelay/nosuch: no such channel (`rrelay stat` lists the open ones)$'
check "CHANNEL and -d/-b together are refused" \
    sh -c "$R record buf -d $C -b buf -o /tmp/r4 --drain 2>&1 | grep -q \"the argument '\\[CHANNEL\\]' cannot be used with\""

# --- --bytes: suffixes, and an exact limit in every mode; the rest stays.
# 100 records of 100 bytes: 40 to a 4096-byte sub-buffer, 10000 bytes.
for mode in default read mmap splice; do
    m="-m $mode"
    [ $mode = default ] && m=
    both 0 100 100
    $R record buf -o /tmp/b-$mode $m --bytes 2.5k --json >/tmp/b-$mode.json 2>/tmp/b-$mode.err
    check "$mode: --bytes 2.5k takes exactly 2500 bytes" \
        sh -c "test \$(cat /tmp/b-$mode/buf* | wc -c) = 2500 && grep -q '\"bytes\": 2500,' /tmp/b-$mode.json"
    check "$mode: ... and the other 7500 stay in the buffer, in order" \
        sh -c "$R cat buf >/tmp/rest && cat /tmp/b-$mode/buf0 /tmp/rest >/tmp/all && $R cat -d $K -b buf | cmp - /tmp/all"
done
both 0 100 100
check "--bytes 4Ki takes 4096 bytes" \
    sh -c "$R record buf -o /tmp/b-ki --bytes 4Ki >/dev/null && test \$(wc -c </tmp/b-ki/buf0) = 4096"
drain_both
check_fails "--bytes 10x is refused" $R record buf -o /tmp/b-x --bytes 10x
check "--duration 0 is refused (exit 2), recording nothing" \
    sh -c "$R record -d $C -b buf -o /tmp/d0 --duration 0 2>/dev/null; test \$? = 2 && test ! -e /tmp/d0"
$R record -d $C -b buf -o /tmp/d1 --duration 0 >/tmp/d0.err 2>&1
check "... with the reason" grep -q "invalid value '0' for '--duration <SECS>': must be more than 0 (--drain" /tmp/d0.err
check "stat --watch 0 is refused" sh -c "timeout 10 $R stat --watch 0 >/tmp/w0 2>&1; test \$? = 2 && grep -q 'must be more than 0' /tmp/w0"

# --- The output directory: refused when not empty, unless --force.
both 2 100 5
$R record buf -o /tmp/o1 --drain >/dev/null
cp /tmp/o1/buf2 /tmp/o1.first
$R cat -d $K -b buf >/dev/null
both 2 100 6
check_fails "a second record into the same directory is refused" $R record -d $C -b buf -o /tmp/o1 --drain
$R record -d $C -b buf -o /tmp/o1 --drain 2>/tmp/o1.err
check "... in one line saying why" \
    one_line /tmp/o1.err '^rrelay: /tmp/o1: exists and is not empty (--force records into it, replacing its <base><cpu> files)$'
check "... leaving the first recording as it was" cmp /tmp/o1/buf2 /tmp/o1.first
check "--force records into it, replacing the files (600 bytes)" \
    sh -c "$R record buf -o /tmp/o1 --force --drain >/dev/null && test \$(wc -c </tmp/o1/buf2) = 600 && $R cat -d $K -b buf --cpu 2 | cmp - /tmp/o1/buf2"

# --- The sample producer: record CHANNEL -o - into decode -, a late start.
# produce COUNTS: the loaded sample writes for a second; its counts go to
# COUNTS.
produce() {
    echo start >$S/control
    sleep 1
    echo stop >$S/control
    cat $S/counts >"$1"
}
insmod /opt/modules/rust_relay_sample.ko rate=500
produce /tmp/s.counts
check "record sample -o - | decode - --exact: every record, one merged stream" \
    sh -c "$R record sample -o - --drain 2>/tmp/s.err | $R decode - --expect /tmp/s.counts --exact --limit 0 >/tmp/s.dec"
check "... the summary on stderr, and no directory named -" \
    sh -c "grep -q '^recorded .* mmap mode' /tmp/s.err && test ! -e /tmp/cli/-"
produce /tmp/s1.counts
$R record sample -o /tmp/s1 --drain >/dev/null
( $R decode /tmp/s1; echo $? >/tmp/p2.status ) 2>/tmp/p2.err | head -n 1 >/tmp/p2.out
check "decode | head -n 1: rrelay exits 0 ($(cat /tmp/p2.status)), silently" \
    sh -c "test \"\$(cat /tmp/p2.status)\" = 0 && test ! -s /tmp/p2.err"
check "... after head printed the first record" grep -q '^\[ *[0-9]*\.[0-9]*\] cpu ' /tmp/p2.out
rmmod rust_relay_sample
# The same through splice (a fresh sample, so --exact holds): the pipe's
# pages spliced on into stdout's pipe.
insmod /opt/modules/rust_relay_sample.ko rate=500
produce /tmp/s3.counts
check "record -m splice -o - | decode - --exact: every record, spliced on into the pipe" \
    sh -c "$R record sample -m splice -o - --drain 2>/tmp/s3.err | $R decode - --expect /tmp/s3.counts --exact --limit 0 >/tmp/s3.dec && grep -q 'splice mode' /tmp/s3.err"
rmmod rust_relay_sample

# Overwrite mode, read after the fact: each stream's first records were
# overwritten, so the recording starts late. Nothing is missing from there
# on; what went is unseen.
insmod /opt/modules/rust_relay_sample.ko rate=2000 overwrite=1 subbuf_size=4096 n_subbufs=4 record_size=48
echo start >$S/control
sleep 1
echo stop >$S/control
cat $S/counts >/tmp/ow.counts
$R record sample -o /tmp/ow --drain >/dev/null
$R decode /tmp/ow --expect /tmp/ow.counts --limit 0 >/tmp/ow.dec 2>&1
check "a late start: no stream has records missing, some have records unseen" \
    awk 'NR > 2 { n++; if ($4 != 0) bad = 1; if ($6 > 0) late = 1 } END { exit bad || !late || n != 12 }' /tmp/ow.dec
sed 's/^/# /' /tmp/ow.dec | head -n 4
rmmod rust_relay_sample

# --- decode says what it decodes.
check_fails "decode of the test client's bytes (not sample records) fails" $R decode /tmp/k1
$R decode /tmp/k1 >/dev/null 2>/tmp/dc.err
check "... naming the format it reads" \
    grep -q "^rrelay: no records decoded: decode reads the sample producers' records (samples/record_format.rs), which this is not" /tmp/dc.err
check "decode --help names the record format" sh -c "$R decode --help | grep -q 'samples/record_format.rs'"

cd /
rmmod rrelay_test_client
rmmod relay_test_client
done_testing
