# The rrelay.ko that Debian's dkms built from dkms.conf (scripts/dkms-check.sh,
# run by make check before the guest boots, puts it in /opt/dkms) loads,
# serves a client, and unloads.
. /opt/lib/tap.sh
plan 3
grep -q '^rrelay ' /proc/modules && rmmod rrelay
check "the module DKMS built loads" insmod /opt/dkms/rrelay.ko
check "and serves a client: the Rust sample opens a channel, rrelay stat lists it" \
    sh -c "insmod /opt/modules/rust_relay_sample.ko && /opt/bin/rrelay stat sample >/dev/null && rmmod rust_relay_sample"
check "and unloads" rmmod rrelay
done_testing
