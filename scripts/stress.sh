#!/usr/bin/env bash
# `make stress`: the stress test (tests/guest/stress/stress.sh) for
# DURATION seconds (default 60) on KERNEL (base or debug; default base).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
kernel=${KERNEL:-base}
prepare_guest "$kernel"
secs=${DURATION:-60}
log "stress for $secs s on the $kernel kernel"
"$RRELAY_ROOT/scripts/vm-run.sh" --kernel "$kernel" --mem 2048 --timeout $((secs * 4 + 600)) \
    --add "$GUEST:/opt" -- "STRESS_SECONDS=$secs sh /opt/run.sh stress"
