#!/usr/bin/env bash
# The kernel's lints on rrelay's C: scripts/kernel-doc (-none -Wall) and
# scripts/checkpatch.pl (--no-tree --strict -f) from the fetched kernel
# tree, on every C file and header in the repository (git ls-files), or on
# the FILEs given. Prints TAP: one test per file and lint, the reports as
# "#" lines under a failed test. checkpatch reports listed in
# scripts/lint-c.ignore (path, type and reason) are accepted; any other
# report fails. Exits 0 when every test passes, 1 otherwise, 2 when the
# kernel tree is missing.
#
# Usage: scripts/lint-c.sh [-v] [FILE...]
#   -v  also list the accepted (suppressed) checkpatch reports
#
# Environment: RRELAY_KSRC, a kernel source tree (default: the one
# scripts/kernel.sh unpacks, $RRELAY_CACHE/src/linux-source-7.2).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

verbose=0
if [[ ${1:-} == -v ]]; then
    verbose=1
    shift
fi
[[ ${1:-} != -* ]] || die "usage: scripts/lint-c.sh [-v] [FILE...]"

ksrc=${RRELAY_KSRC:-$RRELAY_CACHE/src/linux-source-7.2}
checkpatch=$ksrc/scripts/checkpatch.pl
kerneldoc=$ksrc/scripts/kernel-doc
if [[ ! -f $checkpatch || ! -x $kerneldoc ]]; then
    echo "Bail out! no kernel tree with scripts/checkpatch.pl and scripts/kernel-doc at $ksrc" \
        "(scripts/kernel.sh unpacks it; or set RRELAY_KSRC)"
    exit 2
fi

# Paths relative to the repository root: checkpatch judges some rules by
# path (include/uapi/ may not use BIT()), and the ignore list matches them.
cd "$RRELAY_ROOT"
if (($# > 0)); then
    files=("$@")
    all=0
else
    mapfile -t files < <(git ls-files '*.c' '*.h')
    all=1
fi
for f in "${files[@]}"; do
    [[ -f $f ]] || die "no such file: $f"
done

# The ignore list: parallel arrays of glob, type and reason.
ign_glob=() ign_type=() ign_reason=() ign_used=()
while read -r glob type reason; do
    [[ -z $glob || $glob == \#* ]] && continue
    [[ -n $type && -n $reason ]] || die "scripts/lint-c.ignore: '$glob' needs a TYPE and a REASON"
    ign_glob+=("$glob") ign_type+=("$type") ign_reason+=("$reason") ign_used+=(0)
done <"$RRELAY_ROOT/scripts/lint-c.ignore"

work=$(mktemp -d "${TMPDIR:-/tmp}/rrelay-lint.XXXXXX")
trap 'rm -rf "$work"' EXIT
# checkpatch reads .checkpatch.conf from ., $HOME and .scripts: keep the
# user's own out of the results.
mkdir "$work/home"

# One lint on one file, into $work/N.{out,rc}.
run_lint() {
    local n=$1 lint=$2 f=$3 rc=0
    case $lint in
        kernel-doc)
            "$kerneldoc" -none -Wall "$f" >/dev/null 2>"$work/$n.out" || rc=$?
            ;;
        checkpatch)
            HOME=$work/home perl "$checkpatch" --no-tree --strict --terse --show-types \
                --color=never -f "$f" >"$work/$n.out" 2>&1 || rc=$?
            ;;
    esac
    echo "$rc" >"$work/$n.rc"
}

# Both lints on every file, a few at a time.
tests=()
jobs=$(nproc)
for f in "${files[@]}"; do
    for lint in kernel-doc checkpatch; do
        tests+=("$lint $f")
        while (($(jobs -rp | wc -l) >= jobs)); do wait -n; done
        run_lint "${#tests[@]}" "$lint" "$f" &
    done
done
wait

# With every file: kernel-doc only checks the comments it finds, so also
# check that each exported symbol and each structure in include/ has one.
coverage() {
    local headers documented name missing=()
    mapfile -t headers < <(git ls-files 'include/*.h')
    documented=$("$kerneldoc" -rst "${headers[@]}" 2>/dev/null | sed -nE \
        -e 's/^\.\. c:function:: .*[ *]([A-Za-z0-9_]+) \(.*/\1/p' \
        -e 's/^\.\. c:(macro|struct|union|type):: ([A-Za-z0-9_]+).*/\2/p')
    while read -r name; do
        grep -qx -- "$name" <<<"$documented" || missing+=("$name")
    done < <({
        git grep -h -oE 'EXPORT_SYMBOL(_GPL)?\([A-Za-z0-9_]+\)' -- '*.c' | sed -E 's/.*\((.*)\)/\1/'
        git grep -h -oE '^struct [A-Za-z0-9_]+ \{' -- "${headers[@]}" | awk '{ print $2 }'
    } | sort -u)
    ((${#missing[@]} == 0)) || printf '%s\n' "${missing[@]}"
}
if ((all)); then
    tests+=("kernel-doc-coverage exported symbols and structures of include/ have kernel-doc")
    coverage >"$work/${#tests[@]}.out"
fi

echo "1..${#tests[@]}"
failed=0
for i in "${!tests[@]}"; do
    n=$((i + 1))
    read -r lint f <<<"${tests[$i]}"
    rc=$(cat "$work/$n.rc" 2>/dev/null || echo 0)
    bad=() quiet=() why=()
    if [[ $lint == kernel-doc-coverage ]]; then
        lint=kernel-doc
        mapfile -t bad < <(sed 's/^/no kernel-doc comment: /' "$work/$n.out")
    elif [[ $lint == kernel-doc ]]; then
        # kernel-doc prints each warning twice and exits 0 on warnings:
        # every line but Info is a report, once.
        mapfile -t bad < <(grep -v '^Info:' "$work/$n.out" | grep . | sort -u || true)
        ((rc == 0)) || bad+=("kernel-doc exited $rc")
    else
        while IFS= read -r line; do
            if [[ $line =~ ^[^:]+:[0-9]*:?\ *(ERROR|WARNING|CHECK):([A-Z0-9_]+): ]]; then
                type=${BASH_REMATCH[2]} ok=
                for j in "${!ign_glob[@]}"; do
                    # shellcheck disable=SC2053 # the glob is a pattern
                    if [[ $f == ${ign_glob[$j]} && $type == "${ign_type[$j]}" ]]; then
                        ok=$j
                        ign_used[j]=1
                        break
                    fi
                done
                if [[ -n $ok ]]; then
                    quiet+=("accepted: $line")
                    [[ " ${why[*]} " == *" $ok "* ]] || why+=("$ok")
                else
                    bad+=("$line")
                fi
            elif [[ -n $line && $line != total:* ]]; then
                # Anything else checkpatch says (a perl warning, a crash).
                bad+=("$line")
            fi
        done <"$work/$n.out"
        # 0: clean, 1: reports (judged above); anything else is a crash.
        ((rc <= 1)) || bad+=("checkpatch exited $rc")
    fi
    if ((${#bad[@]} == 0)); then
        echo "ok $n - $lint: $f"
    else
        failed=$((failed + 1))
        echo "not ok $n - $lint: $f"
        printf '#   %s\n' "${bad[@]}"
    fi
    ((${#quiet[@]} == 0)) || echo "#   ${#quiet[@]} accepted by scripts/lint-c.ignore"
    if ((verbose)) && ((${#quiet[@]} > 0)); then
        printf '#   %s\n' "${quiet[@]}"
        for j in "${why[@]}"; do
            echo "#   (${ign_type[$j]}: ${ign_reason[$j]})"
        done
    fi
done

if ((all)); then
    for j in "${!ign_glob[@]}"; do
        ((ign_used[j])) ||
            echo "# stale entry in scripts/lint-c.ignore (matches nothing): ${ign_glob[$j]} ${ign_type[$j]}"
    done
fi
echo "# lint-c: ${#files[@]} files, $failed of ${#tests[@]} tests failed"
((failed == 0))
