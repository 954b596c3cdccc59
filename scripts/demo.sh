#!/usr/bin/env bash
# `make demo`: set up what is missing, boot the test VM, load rrelay and the
# sample producer, record a few seconds with `rrelay record`, and show the
# summary, `rrelay stat` and the decoded records.
#
# Parameters (environment, or make variables): SIZE (record bytes, 32-512,
# default 64), RATE (records/s per writer, default 1000), MODE (read, mmap
# or splice; default mmap), OVERWRITE (0/1), GLOBAL (0/1), DURATION (s,
# default 3), SUBBUF_SIZE (bytes, default 16384), N_SUBBUFS (default 16),
# HEADERS (0/1: sub-buffer headers, loss reported in the data).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

prepare_guest base
cp "$RRELAY_ROOT/tests/guest/demo/demo.sh" "$GUEST/demo.sh"
log "booting the VM (QEMU TCG, 4 CPUs)"
args="${SIZE:-64} ${RATE:-1000} ${MODE:-mmap} ${OVERWRITE:-0} ${GLOBAL:-0} ${DURATION:-3}"
args+=" ${SUBBUF_SIZE:-16384} ${N_SUBBUFS:-16} ${HEADERS:-0}"
"$RRELAY_ROOT/scripts/vm-run.sh" --timeout 300 --add "$GUEST:/opt" -- "sh /opt/demo.sh $args"
