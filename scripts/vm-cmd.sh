#!/usr/bin/env bash
# `make vm-run`: build everything the guest runs (the module, the samples,
# the test modules and programs, the rrelay tool) into /opt, boot the test
# VM and run CMD there as root (default: say what /opt holds).
#
#   make vm-run CMD='insmod /opt/modules/rrelay.ko && /opt/bin/rrelay stat'
#   make vm-run KERNEL=debug CMD='...'   (the KASAN/lockdep kernel)
#
# CMD reaches the guest's shell unexpanded: `$f` and `$(...)` are the
# guest's. FILES adds more host files or directories under /opt/files.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kernel=${KERNEL:-base}
prepare_guest "$kernel"
default='echo "rrelay guest: /opt/modules (rrelay.ko, samples, test modules), /opt/bin (rrelay and the test programs), /opt/t (the TAP tests; sh /opt/run.sh NAME runs one). Give CMD=... to run something."; ls /opt/modules /opt/bin'
cmd=${CMD:-$default}
adds=(--add "$GUEST:/opt")
for f in ${FILES:-}; do
    adds+=(--add "$f:/opt/files/$(basename "$f")")
done
log "booting the VM ($kernel kernel); /opt holds the modules, the tool and the tests"
"$RRELAY_ROOT/scripts/vm-run.sh" --kernel "$kernel" --timeout "${TIMEOUT:-600}" "${adds[@]}" -- "$cmd"
