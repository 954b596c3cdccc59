#!/usr/bin/env bash
# `make demo`: set up what is missing, boot the test VM, load rrelay and the
# sample producer, record a few seconds with `rrelay record`, and show the
# summary, `rrelay stat` and the decoded records.
#
# Parameters (environment, or make variables): SIZE (record bytes, 32-512,
# default 64), RATE (records/s per writer, default 1000), MODE (read, mmap
# or splice; default splice), OVERWRITE (0/1), GLOBAL (0/1), DURATION (s,
# default 3).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$RRELAY_ROOT/scripts/bootstrap.sh"
KDIR=$("$RRELAY_ROOT/scripts/kernel.sh" base)
export KDIR
guest=$(mktemp -d "${TMPDIR:-/tmp}/rrelay-demo.XXXXXX")
trap 'rm -rf "$guest"' EXIT
log "building the module, the client and the tools"
"$RRELAY_ROOT/scripts/build-guest.sh" "$guest" >"$guest.build.log" 2>&1 || {
    cat "$guest.build.log" >&2
    die "build failed"
}
cp "$RRELAY_ROOT/tests/guest/demo/demo.sh" "$guest/demo.sh"
log "booting the VM (QEMU TCG, 4 CPUs)"
args="${SIZE:-64} ${RATE:-1000} ${MODE:-splice} ${OVERWRITE:-0} ${GLOBAL:-0} ${DURATION:-3}"
"$RRELAY_ROOT/scripts/vm-run.sh" --timeout 300 --add "$guest:/opt" -- "sh /opt/demo.sh $args"
