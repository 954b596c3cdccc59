# Test result bookkeeping and parsers for check.sh and the runner self-tests.
# shellcheck shell=bash

PASSED=0
FAILED=0
SKIPPED=0
# What ran: "KIND NAME" -> results seen (tap: a program's section, kunit: a
# suite's distinct cases), for check_expected.
declare -gA RAN=()

# result pass|fail|skip NAME
result() {
    case $1 in
        pass) PASSED=$((PASSED + 1)); printf 'ok     %s\n' "$2" ;;
        skip) SKIPPED=$((SKIPPED + 1)); printf 'skip   %s\n' "$2" ;;
        *) FAILED=$((FAILED + 1)); printf 'FAILED %s\n' "$2" ;;
    esac
}

summary() {
    ((SKIPPED == 0)) || echo "($SKIPPED skipped)"
    echo "$PASSED passed, $FAILED failed"
    ((FAILED == 0))
}

# Cargo's libtest lines: "test NAME [- should panic] ... ok|FAILED|ignored". A build failure
# (no test lines at all) is one failure.
count_cargo() {
    local log=$1 n=0 name status
    while read -r name status; do
        n=$((n + 1))
        case $status in
            ok) result pass "host: $name" ;;
            ignored) result skip "host: $name" ;;
            *) result fail "host: $name" ;;
        esac
    done < <(sed -n 's/^test \([^ ]*\)\( - should panic\)\? \.\.\. \(ok\|FAILED\|ignored\)$/\1 \3/p' "$log")
    if ((n == 0)) || grep -q '^error\(\[E[0-9]*\]\)\?:' "$log"; then
        grep -m 20 -A 5 '^error' "$log" >&2
        result fail "host: cargo test build"
    fi
    # What a failed test printed (its panic message): libtest's
    # "---- NAME stdout ----" sections, up to the next summary.
    awk '/^---- .* stdout ----$/ { p = 1 } /^(failures:|test result:)/ { p = 0 } p' "$log" | head -n 60 >&2
}

# TAP (kselftest style) on a stream: "# rrelay-test: NAME" opens a program's
# section; "1..N" is its plan; "ok|not ok N desc" its results. A plan that
# does not match the count, or a section with no plan, is one more failure.
count_tap() {
    local log=$1 prefix=${2:-} prog= plan= seen=0 line
    # The diagnostics ("# ...") since the last result: a failure shows
    # them (the last 20), so its log says why without a rerun.
    local -a diag=()
    close_prog() {
        [[ -n $prog ]] || return 0
        RAN["tap $prog"]=$((${RAN["tap $prog"]:-0} + seen))
        if [[ -z $plan ]]; then
            result fail "$prefix$prog: no TAP plan (crashed?)"
        elif ((plan != seen)); then
            result fail "$prefix$prog: planned $plan tests, ran $seen"
        fi
    }
    while IFS= read -r line; do
        if [[ $line =~ ^#\ rrelay-test:\ (.*)$ ]]; then
            close_prog
            prog=${BASH_REMATCH[1]} plan= seen=0 diag=()
        elif [[ $line =~ ^#\  ]]; then
            diag+=("$line")
        elif [[ $line =~ ^1\.\.([0-9]+) ]]; then
            plan=${BASH_REMATCH[1]}
        elif [[ $line =~ ^(not\ )?ok\ [0-9]+\ (-\ )?(.*)$ ]]; then
            seen=$((seen + 1))
            local not=${BASH_REMATCH[1]:-} desc=${BASH_REMATCH[3]}
            if [[ $desc =~ \#\ SKIP ]]; then
                result skip "$prefix$prog: $desc"
            elif [[ -n $not ]]; then
                result fail "$prefix$prog: $desc"
                local from=$((${#diag[@]} > 20 ? ${#diag[@]} - 20 : 0))
                ((${#diag[@]} == 0)) || printf '    %s\n' "${diag[@]:from}" >&2
            else
                result pass "$prefix$prog: $desc"
            fi
            diag=()
        fi
    done <"$log"
    close_prog
}

# KUnit's KTAP in a kernel log, parsed by the kernel's own `kunit.py
# parse` (scripts/kunit_results.py feeds it each KTAP document: a module's
# suites run at every load). A case counts once, failed if any run of it
# failed.
count_kunit() {
    local log=$1 st name key
    local -A seen=()
    local -a order=()
    while read -r st name; do
        key="kunit: $name"
        if [[ -z ${seen[$key]:-} ]]; then
            order+=("$key")
            RAN["kunit ${name%%.*}"]=$((${RAN["kunit ${name%%.*}"]:-0} + 1))
        fi
        [[ ${seen[$key]:-} == fail ]] || seen[$key]=$st
    done < <(python3 "$RRELAY_ROOT/scripts/kunit_results.py" "$(readlink -f "$KDIR/source")" "$log")
    for key in "${order[@]}"; do
        result "${seen[$key]}" "$key"
    done
}

# check_expected FILE KERNEL: every test FILE lists for KERNEL must have run
# with its count of results ("-": any count, at least one), and nothing may
# run that FILE does not list. One result per problem, then one for the
# whole list. FILE's lines: KIND NAME COUNT KERNELS (base,debug).
check_expected() {
    local file=$1 kernel=$2 kind name count kernels n=0 bad=0 key
    local -A listed=()
    while read -r kind name count kernels; do
        [[ -z $kind || $kind == \#* ]] && continue
        [[ ,$kernels, == *,$kernel,* ]] || continue
        key="$kind $name"
        listed[$key]=1
        n=$((n + 1))
        if [[ -z ${RAN[$key]+x} ]]; then
            result fail "harness: expected $kind test $name did not run (missing or crashed)"; bad=1
        elif [[ $count == - ]]; then
            ((RAN[$key] > 0)) || { result fail "harness: $kind test $name gave no result"; bad=1; }
        elif ((RAN[$key] != count)); then
            result fail "harness: $kind test $name gave ${RAN[$key]} results, $file says $count"; bad=1
        fi
    done <"$file"
    for key in "${!RAN[@]}"; do
        if [[ -z ${listed[$key]:-} ]]; then
            result fail "harness: $key ran (${RAN[$key]} results) but $file does not list it for $kernel"; bad=1
        fi
    done
    ((bad)) || result pass "harness: all $n tests of $file for the $kernel kernel ran, with their counts"
}

# run_guest_suite KERNEL GUESTDIR TESTS OUTPREFIX [vm-run options...]
# Boots the VM on the built guest files, runs tests/guest/run.sh TESTS and
# counts its KUnit, TAP and VM-level results.
run_guest_suite() {
    local kernel=$1 guest=$2 tests=$3 out=$4
    shift 4
    local rc=0
    "$RRELAY_ROOT/scripts/vm-run.sh" --kernel "$kernel" --timeout "${RRELAY_VM_TIMEOUT:-900}" \
        --log "$out.console" --add "$guest:/opt" "$@" -- "${GUEST_ENV:-} sh /opt/run.sh $tests" \
        >"$out.tap" 2>"$out.err" || rc=$?
    count_kunit "$out.console"
    count_tap "$out.tap"
    if ((rc == 0)); then
        result pass "vm: guest suite exited 0, kernel log clean"
    else
        sed 's/^/    /' "$out.err" >&2
        result fail "vm: guest suite (exit $rc: $(tail -n 1 "$out.err"))"
    fi
    return $rc
}
