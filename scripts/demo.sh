#!/usr/bin/env bash
# `make demo`: set up what is missing, boot the test VM, load rrelay and a
# client, and show a channel at work: records written on every CPU, the
# statistics view, and the data read back.
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
"$RRELAY_ROOT/scripts/vm-run.sh" --timeout 300 --add "$guest:/opt" -- "sh /opt/demo.sh"
