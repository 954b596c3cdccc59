#!/usr/bin/env bash
# `make mutants`: mutation testing of the sub-buffer accounting (src/subbuf.rs)
# with cargo-mutants (configuration: accounting/mutants.toml). Each mutant is
# built and tested in a copy of the tree, never in place: src/subbuf.rs is
# also compiled by the module build and edited by others.
#
# Prints the score, and fails if a mutant survives that is not listed in
# accounting/mutants-equivalent.txt (each entry says why that mutant behaves
# exactly like the original), or if the run does not finish in time.
#
# Environment: RRELAY_MUTANTS_JOBS (default 2), RRELAY_MUTANTS_LIMIT (seconds
# for the whole run, default 900), RRELAY_MUTANTS_OUT (keep cargo-mutants'
# output in this directory; default a temporary one).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Installed here, on first use, rather than by bootstrap.sh: only this
# script needs it.
if [[ "$(cargo mutants --version 2>/dev/null)" != "cargo-mutants 27.1.0" ]]; then
    log "cargo install cargo-mutants 27.1.0"
    cargo install --locked cargo-mutants@27.1.0 --quiet
fi
jobs=${RRELAY_MUTANTS_JOBS:-2}
limit=${RRELAY_MUTANTS_LIMIT:-900}
equivalent=$RRELAY_ROOT/accounting/mutants-equivalent.txt
if [[ -n ${RRELAY_MUTANTS_OUT:-} ]]; then
    out=$RRELAY_MUTANTS_OUT
    mkdir -p "$out"
else
    out=$(mktemp -d "${TMPDIR:-/tmp}/rrelay-mutants.XXXXXX")
    trap 'rm -rf "$out"' EXIT
fi

# The first failing case kills a mutant: proptest need not shrink it.
export PROPTEST_MAX_SHRINK_ITERS=0
start=$(now)
log "cargo mutants on src/subbuf.rs, $jobs jobs, at most $limit s"
rc=0
(cd "$RRELAY_ROOT" && timeout "$limit" cargo mutants --config accounting/mutants.toml \
    -p rrelay-accounting --jobs "$jobs" --no-shuffle --colors never --output "$out") \
    >"$out/run.log" 2>&1 || rc=$?
secs=$(($(now) - start))
results=$out/mutants.out
case $rc in
    0 | 2 | 3) ;; # all caught; some missed; some timed out
    124) die "cargo mutants did not finish in $limit s (log: $out/run.log)" ;;
    *)
        tail -n 30 "$out/run.log" >&2
        die "cargo mutants failed (exit $rc): the unmutated tests must pass first"
        ;;
esac

lines() { [[ -s $1 ]] && wc -l <"$1" || echo 0; }
caught=$(lines "$results/caught.txt")
missed=$(lines "$results/missed.txt")
timeouts=$(lines "$results/timeout.txt")
unviable=$(lines "$results/unviable.txt")
total=$((caught + missed + timeouts + unviable))

# A survivor is named by its description and the mutated source line, so
# that the list survives edits elsewhere in the file:
#   replace > with >= in Geometry::add_consumed @ } else if n > ... {
key() {
    local where=${1%%: *} what=${1#*: } file line
    file=${where%%:*}
    line=${where#*:}
    line=${line%%:*}
    printf '%s @ %s\n' "$what" "$(sed -n "${line}p" "$RRELAY_ROOT/$file" | sed 's/^ *//')"
}
declare -A known=()
while IFS= read -r entry; do
    [[ -z $entry || $entry == \#* ]] && continue
    known["${entry%% ## *}"]=1
done <"$equivalent"

new=0
equiv=0
declare -A seen=()
while IFS= read -r m; do
    [[ -z $m ]] && continue
    k=$(key "$m")
    seen["$k"]=1
    if [[ -n ${known["$k"]:-} ]]; then
        equiv=$((equiv + 1))
        printf 'equivalent %s\n' "$m"
    else
        new=$((new + 1))
        printf 'SURVIVED   %s\n' "$m"
        printf '  key: %s\n' "$k"
    fi
done < <(cat "$results/missed.txt" 2>/dev/null || true)
while IFS= read -r m; do
    [[ -n $m ]] && printf 'timeout    %s\n' "$m"
done < <(cat "$results/timeout.txt" 2>/dev/null || true)
for k in "${!known[@]}"; do
    [[ -n ${seen["$k"]:-} ]] || log "listed as equivalent but not a survivor (stale entry?): $k"
done

echo "mutants of src/subbuf.rs: $total in ${secs}s; caught $caught, timeouts $timeouts," \
    "unviable $unviable, survived $missed ($equiv listed as equivalent, $new not)"
echo "score: $((caught + timeouts)) / $((total - unviable)) viable mutants killed," \
    "$((caught + timeouts + equiv)) / $((total - unviable)) counting the equivalent ones"
if ((new > 0)); then
    log "$new mutant(s) survived: strengthen accounting/tests, or list them with the" \
        "reason they are equivalent in accounting/mutants-equivalent.txt"
    exit 1
fi
