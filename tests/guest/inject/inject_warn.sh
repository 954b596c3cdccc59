# A WARN_ON in the kernel: vm-run.sh must fail the run.
. /opt/lib/tap.sh
plan 1
check "load rrelay_inject with warn=1" insmod /opt/modules/rrelay_inject.ko warn=1
done_testing
