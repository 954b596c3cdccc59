# The demo, in the guest: a relay client writes on every CPU, user space
# reads the per-CPU files and the statistics.
set -e
D=/sys/kernel/debug/rrelay_test_client
say() { printf '\n== %s\n' "$*"; }

say "load rrelay.ko and a client with 4 sub-buffers of 256 bytes per CPU"
insmod /opt/modules/rrelay.ko
insmod /opt/modules/rrelay_test_client.ko default_files=1
ls -l $D/

say "write 20 records of 100 bytes on each CPU, then flush"
for cpu in 0 1 2 3; do taskset -c $cpu sh -c "echo 'write 100 20' > $D/ctl"; done
echo flush > $D/ctl

say "rrelay stat: the statistics of every open channel (from /sys/kernel/debug/rrelay/*/stats)"
/opt/bin/rrelay stat
echo "(each buffer holds 4 x 256 bytes: of 20 records of 100 bytes, 8 fit, 2 per"
echo " sub-buffer; nobody read meanwhile, so 12 were dropped, and counted: full and"
echo " dropped also count the flush, which found the buffer full)"

say "read the buffers: CPU 0's data starts with record 0 (a sequence number, then a pattern)"
for cpu in 0 1 2 3; do /opt/bin/rrelay cat -d $D -b buf --cpu $cpu >/tmp/cpu$cpu; printf 'rrelay cat --cpu %s: %s bytes\n' $cpu "$(wc -c </tmp/cpu$cpu)"; done
hexdump -C /tmp/cpu0 | head -n 7

say "rrelay stat after reading: every byte written was read"
/opt/bin/rrelay stat buf

say "close the channel and unload"
rmmod rrelay_test_client
rmmod rrelay
echo "done: rrelay loaded, streamed, counted its losses and unloaded cleanly"
