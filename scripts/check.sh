#!/usr/bin/env bash
# `make check`: every test, host and guest, counted into one summary line.
#
#   1. host: `cargo test --workspace` (accounting model, property tests, tools)
#   2. the module, test modules and test programs, built against the test kernel
#   3. one VM boot (TCG, 4 CPUs) runs tests/guest/run.sh: KUnit suites (KTAP
#      in the kernel log) and the TAP programs of tests/ (kselftest style)
#   4. the runner's own tests: an injected KUnit failure, TAP failure,
#      guest hang and WARN_ON must each be caught
#
# Environment: RRELAY_KERNEL=base|debug (default base), RRELAY_GUEST_TESTS
# (space-separated names for tests/guest/run.sh; default all),
# RRELAY_SKIP_SELFTEST=1 skips step 4.
#
# With the debug kernel (make check-debug) the run is what the kernel
# changes: the build, the guest suite plus the stress test for
# RRELAY_STRESS_SECONDS (default 30) and a kmemleak scan, and the runner
# self-test the debug kernel adds (a leak kmemleak must find). What
# does not depend on the kernel (host tests, fuzzing, lints, builds as a
# user or DKMS does them, the benchmark's smoke test, the tool's command
# line) is make check's.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$RRELAY_ROOT/scripts/results.sh"

kernel=${RRELAY_KERNEL:-base}
start=$(now)
prepare_kernel "$kernel" || die "kernel build failed"

# A phase starts: said with the seconds since the start, so a slow phase
# shows in the log.
phase() { log "[$(($(now) - start)) s] $*"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/rrelay-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 1. Host tests (not with the debug kernel: they do not use one).
if [[ $kernel != debug ]]; then
    phase "host tests (cargo test --workspace)"
    if cargo test --workspace --no-fail-fast --color never >"$work/cargo.log" 2>&1; then :; fi
    count_cargo "$work/cargo.log"
    # The runner's host self-tests: the splat pattern and the bookkeeping.
    for t in splats harness; do
        "$RRELAY_ROOT/tests/runner/$t.sh" >"$work/$t.log" 2>&1
        count_tap "$work/$t.log" "runner: "
    done
    if python3 "$RRELAY_ROOT/scripts/bench_report.py" --self-test >"$work/bench-report.log" 2>&1; then
        result pass "host: bench report generator self-test"
    else
        cat "$work/bench-report.log" >&2
        result fail "host: bench report generator self-test"
    fi

    # Fuzzing the accounting (cargo fuzz, bounded, fixed seed): one core,
    # beside the builds and lints below, whose rustc runs mostly on one
    # core too; its result is counted once they are done.
    fuzz_secs=${RRELAY_FUZZ_SECONDS:-20}
    phase "fuzzing the accounting for $fuzz_secs s (cargo fuzz), beside the builds and lints"
    (cd "$RRELAY_ROOT/accounting" && cargo +nightly fuzz run --target-dir "$CARGO_TARGET_DIR/fuzz" accounting -- \
        -max_total_time="$fuzz_secs" -seed=1) >"$work/fuzz.log" 2>&1 &
    fuzz_pid=$!
fi

# 2. Build.
phase "building rrelay.ko, test modules and test programs against $KDIR"
if ! "$RRELAY_ROOT/scripts/build-guest.sh" "$work/guest" >"$work/build.log" 2>&1; then
    cat "$work/build.log" >&2
    result fail "build: module, test modules and test programs"
    wait
    summary
    exit 1
fi
result pass "build: module, test modules and test programs"

if [[ $kernel != debug ]]; then
    # Clippy: `make clippy` (a copy of the sources, every Rust file linted),
    # beside the lints and builds below, which leave the sources alone;
    # counted after them.
    make -s -C "$RRELAY_ROOT" clippy KDIR="$KDIR" >"$work/clippy.log" 2>&1 &
    clippy_pid=$!
    # Lints: rustfmt, and the kernel's clippy lints on the module (warnings fail).
    if make -s -C "$RRELAY_ROOT" fmt-check >"$work/fmt.log" 2>&1; then
        result pass "lint: rustfmt"
    else
        head -n 20 "$work/fmt.log" >&2
        result fail "lint: rustfmt (make fmt fixes it)"
    fi

    # The kernel's lints on the C: kernel-doc and checkpatch, one test per file
    # and lint (scripts/lint-c.sh; accepted reports in scripts/lint-c.ignore).
    { echo "# rrelay-test: lint"; "$RRELAY_ROOT/scripts/lint-c.sh"; } >"$work/lint-c.tap" 2>&1
    count_tap "$work/lint-c.tap"
    awk '/^(not ok|Bail out)/ { p = 1; print; next } /^(ok|1\.\.)/ { p = 0 } p' "$work/lint-c.tap" | head -n 40 >&2

    # The kernel's relay clients (blktrace, i915, ath9k/10k/11k, mt7915/7996,
    # t7xx, iosm) compiled against rrelay_compat.h, one test per file.
    { echo "# rrelay-test: compat-clients"; "$RRELAY_ROOT/scripts/compat-clients.sh"; } >"$work/compat.tap" 2>&1
    count_tap "$work/compat.tap"
    awk '/^(not ok|Bail out)/ { p = 1; print; next } /^(ok|1\.\.)/ { p = 0 } p' "$work/compat.tap" | head -n 40 >&2

    # Building against rrelay as a user does: make (rrelay.ko alone), make
    # install, and the README's client example as printed.
    { echo "# rrelay-test: client-example"; KDIR=$KDIR "$RRELAY_ROOT/scripts/client-example.sh"; } >"$work/client.tap" 2>&1
    count_tap "$work/client.tap"
    grep -A20 '^not ok' "$work/client.tap" | head -n 40 >&2

    # DKMS: Debian's dkms builds rrelay.ko from dkms.conf; the guest test
    # `dkms` loads what it built.
    { echo "# rrelay-test: dkms-build"; KDIR=$KDIR "$RRELAY_ROOT/scripts/dkms-check.sh" "$work/guest/dkms"; } >"$work/dkms.tap" 2>&1
    count_tap "$work/dkms.tap"
    grep -A20 '^not ok' "$work/dkms.tap" | head -n 40 >&2

    if wait "$clippy_pid"; then
        result pass "lint: clippy"
    else
        grep -E -A6 '^(warning|error)' "$work/clippy.log" | head -n 30 >&2
        tail -n 5 "$work/clippy.log" >&2
        result fail "lint: clippy (make clippy: a CLIPPY step and no warning are required)"
    fi
    if wait "$fuzz_pid"; then
        result pass "fuzz: accounting, $(grep -o 'Done [0-9]* runs' "$work/fuzz.log" | tail -n1 | cut -d' ' -f2) runs without a failure"
    else
        grep -A 20 -m1 'panicked\|ERROR' "$work/fuzz.log" >&2
        result fail "fuzz: accounting (see the crash input under accounting/fuzz/artifacts)"
    fi
fi

# 3. The guest suite.
phase "guest suite on the $kernel kernel"
# 2 GiB: the big_buffer test maps a 1 GiB buffer.
vm_opts=(--mem 2048)
if [[ $kernel == debug ]]; then
    export GUEST_ENV="STRESS_SECONDS=${RRELAY_STRESS_SECONDS:-30} EXTRA_TESTS='stress leaks' SKIP_TESTS='bench_smoke dkms tool_cli'"
fi
run_guest_suite "$kernel" "$work/guest" "${RRELAY_GUEST_TESTS:-}" "$work/suite" "${vm_opts[@]}"
grep -h '^# stress figures' "$work/suite.tap" >&2 || true

# 4. The runner catches what it must.
if [[ ${RRELAY_SKIP_SELFTEST:-0} != 1 ]]; then
    phase "runner self-tests (each must be caught)"
    if "$RRELAY_ROOT/tests/runner/selftest.sh" "$kernel" "$work/guest" >"$work/selftest.log" 2>&1; then
        result pass "runner: selftest.sh exited 0"
    else
        result fail "runner: selftest.sh exited $? (see the results above)"
    fi
    count_tap "$work/selftest.log" "runner: "
fi

# 5. Everything that should have run did, with its number of results.
if [[ -z ${RRELAY_GUEST_TESTS:-} && ${RRELAY_SKIP_SELFTEST:-0} != 1 ]]; then
    check_expected "$RRELAY_ROOT/tests/expected.txt" "$kernel"
    for key in "${!RAN[@]}"; do echo "$key ${RAN[$key]}"; done | sort >"$RRELAY_CACHE/last-ran-$kernel.txt"
else
    result skip "harness: expected-test list (a subset was asked for)"
fi

log "done in $(($(now) - start)) s"
summary
