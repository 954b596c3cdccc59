#!/usr/bin/env bash
# The kernel's own relay clients, compiled against rrelay: every in-tree
# user of <linux/relay.h> in the fetched kernel source gets a syntax and
# type check (clang -fsyntax-only) with <linux/relay.h> redirected to
# include/rrelay_compat.h, by a directory first on the include path whose
# linux/relay.h includes it.
#
# The flags are the test kernel's own, from the .cmd file of a similar
# object (kernel/relay.o). Most of these drivers are not in the test
# kernel's config, so each client also gets the Kconfig options that turn
# its relay code on (and what they depend on) as -DCONFIG_... on top of the
# kernel's autoconf.h, plus its directory's own ccflags.
#
# Prints TAP, one test per client file. A test fails when the file does not
# compile, when the relay header it saw was not rrelay_compat.h, or when
# rrelay's headers cause a warning; the compiler's report follows as "#"
# lines. A file of the tree that includes <linux/relay.h> but is missing
# from the table below is a failed test too. Exits 0 when every test
# passes, 1 otherwise, 2 when the kernel build is missing.
#
# Usage: scripts/compat-clients.sh
#
# Environment: KDIR, a kernel build from scripts/kernel.sh (default: the
# base kernel, built if needed).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kdir=${KDIR:-$("$RRELAY_ROOT/scripts/kernel.sh" base)}
cmdfile=$kdir/kernel/.relay.o.cmd
if [[ ! -f $cmdfile || ! -d $kdir/source/ ]]; then
    echo "Bail out! no kernel build with kernel/.relay.o.cmd and source/ at $kdir"
    exit 2
fi
ksrc=$(readlink -f "$kdir/source")

# The clients: the file that uses relay, the file of the tree that includes
# <linux/relay.h> for it ("-": the same), the Kconfig options its relay code
# needs, and its directory's ccflags (from the Makefiles; @ is the kernel
# source). kernel/relay.c is relay itself and kernel/cpu.c only wires
# relay's hotplug callback: neither is a client.
wifi="NET WLAN CFG80211 MAC80211 MAC80211_DEBUGFS WLAN_VENDOR_ATH ATH_COMMON"
ath9k="$wifi ATH9K ATH9K_HW ATH9K_COMMON ATH9K_DEBUGFS ATH9K_COMMON_DEBUG ATH9K_COMMON_SPECTRAL"
mt76="NET WLAN CFG80211 MAC80211 MAC80211_DEBUGFS WLAN_VENDOR_MEDIATEK MT76_CORE MT76_CONNAC_LIB"
i915_profile="-DCONFIG_DRM_I915_PREEMPT_TIMEOUT=640 -DCONFIG_DRM_I915_HEARTBEAT_INTERVAL=2500"
i915_profile+=" -DCONFIG_DRM_I915_TIMESLICE_DURATION=1"
clients=(
    "kernel/trace/blktrace.c|include/linux/blktrace_api.h|BLOCK BLK_DEV_IO_TRACE TRACEPOINTS TASKS_TRACE_RCU TRACING GENERIC_TRACER EVENT_TRACING STACKTRACE FTRACE|"
    "drivers/gpu/drm/i915/gt/uc/intel_guc_log.c|drivers/gpu/drm/i915/gt/uc/intel_guc_log.h|DRM DRM_I915|-DI915 -I@/drivers/gpu/drm/i915 $i915_profile"
    "drivers/net/wireless/ath/ath9k/common-spectral.c|-|$ath9k|"
    "drivers/net/wireless/ath/ath9k/init.c|-|$ath9k|"
    "drivers/net/wireless/ath/ath10k/spectral.c|-|$wifi ATH10K ATH10K_DEBUGFS ATH10K_SPECTRAL|"
    "drivers/net/wireless/ath/ath11k/spectral.c|-|$wifi ATH11K ATH11K_DEBUGFS ATH11K_SPECTRAL|"
    "drivers/net/wireless/ath/ath11k/cfr.c|-|$wifi ATH11K ATH11K_DEBUGFS ATH11K_CFR|"
    "drivers/net/wireless/mediatek/mt76/mt7915/debugfs.c|-|$mt76 MT7915E|"
    "drivers/net/wireless/mediatek/mt76/mt7996/debugfs.c|-|$mt76 MT7996E|"
    "drivers/net/wwan/t7xx/t7xx_port_trace.c|-|NET WWAN WWAN_DEBUGFS MTK_T7XX|"
    "drivers/net/wwan/iosm/iosm_ipc_trace.c|drivers/net/wwan/iosm/iosm_ipc_trace.h|NET WWAN WWAN_DEBUGFS IOSM|"
)
not_clients=(include/linux/relay.h kernel/relay.c kernel/cpu.c)

work=$(mktemp -d "${TMPDIR:-/tmp}/rrelay-compat.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/shim/linux"
cat >"$work/shim/linux/relay.h" <<'EOF'
/* <linux/relay.h>, redirected to rrelay by scripts/compat-clients.sh. */
#include <rrelay_compat.h>
EOF

# The kernel's command for kernel/relay.o without its dependency file,
# per-object defines and include directories, output and source.
read -ra words < <(sed -n 's/^savedcmd_kernel\/relay\.o := //p' "$cmdfile")
((${#words[@]} > 0)) || {
    echo "Bail out! no savedcmd in $cmdfile"
    exit 2
}
cc=${words[0]}
kflags=()
skip=0
for w in "${words[@]:1}"; do
    if ((skip)); then
        skip=0
        continue
    fi
    case $w in
        -o) skip=1 ;;
        -c | -Wp,* | -DKBUILD_* | -D__KBUILD_MODNAME=* | -I"$ksrc"/kernel | -Ikernel | *.c) ;;
        *) kflags+=("$w") ;;
    esac
done

# The tree's users of <linux/relay.h> that the table does not know: new
# clients, each a failed test.
unknown=()
while read -r u; do
    known=0
    for x in "${not_clients[@]}"; do [[ $u == "$x" ]] && known=1; done
    for c in "${clients[@]}"; do
        IFS='|' read -r file via _ <<<"$c"
        [[ $via == - ]] && via=$file
        [[ $u == "$via" ]] && known=1
    done
    ((known)) || unknown+=("$u")
done < <(cd "$ksrc" && grep -rlE --include='*.[ch]' '^#include <linux/relay\.h>' \
    arch block drivers fs include kernel lib mm net sound | sort)

echo "1..$((${#clients[@]} + ${#unknown[@]}))"
n=0
failed=0
for c in "${clients[@]}"; do
    IFS='|' read -r file via configs extra <<<"$c"
    n=$((n + 1))
    defs=()
    for o in $configs; do defs+=("-DCONFIG_$o=1"); done
    [[ $file == kernel/* ]] || defs+=(-DMODULE)
    name=$(basename "$file" .c)
    # Run where the kernel was built: its flags name generated headers
    # relative to that directory.
    if (cd "$kdir" && "$cc" -I"$work/shim" -I"$RRELAY_ROOT/include" "${kflags[@]}" \
        "${defs[@]}" ${extra//@/$ksrc} -I"$ksrc/$(dirname "$file")" \
        -DKBUILD_MODNAME="\"$name\"" -DKBUILD_BASENAME="\"$name\"" -D__KBUILD_MODNAME="$name" \
        -H -fsyntax-only "$ksrc/$file") >"$work/out" 2>&1; then
        rc=0
    else
        rc=$?
    fi
    # -H lists every header read, one per line, after dots for the depth.
    grep -E '^\.+ ' "$work/out" >"$work/headers" || true
    grep -vE '^\.+ |^Multiple include guards|^(/.*\.h)$' "$work/out" >"$work/diag" || true
    why=
    if ((rc != 0)); then
        why="does not compile"
    elif ! grep -qF " $RRELAY_ROOT/include/rrelay_compat.h" "$work/headers"; then
        why="did not include rrelay_compat.h"
    elif grep -qF " $ksrc/include/linux/relay.h" "$work/headers"; then
        why="read the kernel's <linux/relay.h>"
    elif grep -qE "^($RRELAY_ROOT/include|$work/shim)/.*: (warning|error)" "$work/diag"; then
        why="warnings in rrelay's headers"
    fi
    if [[ -z $why ]]; then
        echo "ok $n - $file"
    else
        failed=$((failed + 1))
        echo "not ok $n - $file: $why"
        grep -E 'error|warning' "$work/diag" | head -n 20 | sed 's/^/#   /'
    fi
done

for u in "${unknown[@]}"; do
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $u: includes <linux/relay.h> but is not in scripts/compat-clients.sh's table"
done

echo "# compat-clients: $n tests, $failed failed ($kdir)"
((failed == 0))
