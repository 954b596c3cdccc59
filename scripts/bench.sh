#!/usr/bin/env bash
# `make bench`: rrelay against the kernel's relay in one VM boot, then
# bench/results.json, bench/results.md and bench/plot.svg.
#
# Parameters (environment or make variables): BENCH_ROUNDS (default 5),
# BENCH_BATCH (bytes per timed batch, default 2 MiB), BENCH_SETUP_MIB (per
# CPU for open/close, default 16), BENCH_SECS (per drain run, default 3).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

prepare_guest base
cp "$RRELAY_ROOT/tests/guest/bench/bench.sh" "$GUEST/bench.sh"
args="${BENCH_ROUNDS:-5} ${BENCH_BATCH:-2097152} ${BENCH_SETUP_MIB:-16} ${BENCH_SECS:-3}"
log "benchmark in the VM (QEMU TCG, 4 CPUs, 2 GiB): $args"
start=$(now)
"$RRELAY_ROOT/scripts/vm-run.sh" --mem 2048 --timeout 1800 --add "$GUEST:/opt" -- "sh /opt/bench.sh $args" >"$GUEST.out"
log "benchmark took $(($(now) - start)) s"
python3 "$RRELAY_ROOT/scripts/bench_report.py" "$GUEST.out" "$RRELAY_ROOT/bench"
log "wrote bench/results.json, bench/results.md, bench/plot.svg"
