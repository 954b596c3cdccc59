#!/usr/bin/env bash
# Host self-test of SPLAT_RE (scripts/lib.sh): every report in
# tests/runner/splat-samples.txt must match it, and the kernel log of a
# clean boot (tests/runner/clean-boot.log) must not. Prints TAP.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
dir=$(dirname "$0")
n=0 fail=0
echo "# rrelay-test: runner-splats"
total=$(( $(grep -vc '^#' "$dir/splat-samples.txt") + 1 ))
echo "1..$total"
while IFS= read -r line; do
    [[ $line == \#* ]] && continue
    n=$((n + 1))
    if grep -Eq "$SPLAT_RE" <<<"$line"; then
        echo "ok $n splat caught: ${line#*] }"
    else
        echo "not ok $n splat caught: ${line#*] }"; fail=1
    fi
done <"$dir/splat-samples.txt"
n=$((n + 1))
if grep -E "$SPLAT_RE" "$dir/clean-boot.log" >/tmp/splats-false.$$; then
    echo "not ok $n a clean boot log has no splat"; sed 's/^/# /' /tmp/splats-false.$$; fail=1
else
    echo "ok $n a clean boot log has no splat ($(wc -l <"$dir/clean-boot.log") lines)"
fi
rm -f /tmp/splats-false.$$
exit $fail
