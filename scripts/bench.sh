#!/usr/bin/env bash
# `make bench`: rrelay against the kernel's relay and the ftrace ring
# buffer, each comparison within one VM boot: one boot with TCG timing (write
# path, set-up, drains), one with deterministic instruction counts
# (`-icount shift=0,sleep=off`: a guest nanosecond is an instruction; write
# path only). Then bench/results.json, bench/results.md and bench/plot.svg.
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
log "write path again with deterministic instruction counts (-icount shift=0,sleep=off)"
"$RRELAY_ROOT/scripts/vm-run.sh" --icount --mem 2048 --timeout 1800 --add "$GUEST:/opt" \
    -- "sh /opt/bench.sh $args tcg-icount" >"$GUEST.icount.out"
log "both boots took $(($(now) - start)) s"
python3 "$RRELAY_ROOT/scripts/bench_report.py" "$GUEST.out" "$RRELAY_ROOT/bench" "$GUEST.icount.out"
log "wrote bench/results.json, bench/results.md, bench/plot.svg"
