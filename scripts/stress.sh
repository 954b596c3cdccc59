#!/usr/bin/env bash
# `make stress`: the stress test (tests/guest/stress/stress.sh) for
# DURATION seconds (default 60) on KERNEL (base or debug; default base).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
"$RRELAY_ROOT/scripts/bootstrap.sh"
kernel=${KERNEL:-base}
KDIR=$("$RRELAY_ROOT/scripts/kernel.sh" "$kernel")
export KDIR
guest=$(mktemp -d "${TMPDIR:-/tmp}/rrelay-stress.XXXXXX")
trap 'rm -rf "$guest"' EXIT
"$RRELAY_ROOT/scripts/build-guest.sh" "$guest" >"$guest.log" 2>&1 || { cat "$guest.log" >&2; die "build failed"; }
secs=${DURATION:-60}
log "stress for $secs s on the $kernel kernel"
"$RRELAY_ROOT/scripts/vm-run.sh" --kernel "$kernel" --mem 2048 --timeout $((secs * 4 + 600)) \
    --add "$guest:/opt" -- "STRESS_SECONDS=$secs sh /opt/run.sh stress"
