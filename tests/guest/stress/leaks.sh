# kmemleak (debug kernel): no object allocated by rrelay or by any module of
# this suite may leak. Two scans:
#   1. with rrelay (and whatever is still loaded) in memory, so backtraces
#      name the module ("... [rrelay]");
#   2. after every module is unloaded: a frame of an unloaded module prints
#      as a bare address in the module area. Every module this guest ever
#      loads is ours, so such a frame is ours too.
# The report is parsed object by object ("unreferenced object ..." starts
# each; there are no blank lines between them). kmemleak reports an object
# only once it is 5 s old (MSECS_MIN_AGE), hence the sleeps.
. /opt/lib/tap.sh
K=/sys/kernel/debug/kmemleak
plan 4
if [ ! -e $K ]; then
    for i in 1 2 3 4; do ok "# SKIP no kmemleak in this kernel"; done
    done_testing
fi
MODS='rrelay|rust_relay_sample|c_relay_sample|rrelay_test_client|relay_test_client|rrelay_bench|rrelay_inject'

# ours FILE: print the objects of the kmemleak report FILE whose allocation
# backtrace passes through one of our modules, by name or by a bare address
# in the x86_64 module area [0xffffffffa0000000, 0xffffffffff000000).
ours() {
    awk -v mods="$MODS" '
        function flush() { if (obj != "" && keep) { print obj; n++ } obj = ""; keep = 0 }
        /^unreferenced object/ { flush(); obj = $0; next }
        obj == "" { next }
        { obj = obj "\n" $0 }
        $0 ~ "\\[(" mods ")\\]$" { keep = 1 }
        /^    0x[0-9a-f]+$/ {
            a = tolower(substr($1, 3))
            if (length(a) == 16 && a >= "ffffffffa0000000" && a < "ffffffffff000000") keep = 1
        }
        END { flush(); exit n == 0 }' "$1"
}

scan() {
    sleep 6
    echo scan >$K
    cat $K >"$1"
}

grep -q '^rrelay ' /proc/modules || insmod /opt/modules/rrelay.ko
base=$(awk '$1 == "rrelay" { print $6 }' /proc/modules)
check "rrelay is loaded at $base, inside the module area the parser assumes" \
    sh -c "a=\$(echo $base | sed 's/^0x//'); test \${#a} = 16 && expr \"\$a\" '>=' ffffffffa0000000 >/dev/null && expr \"\$a\" '<' ffffffffff000000 >/dev/null"

scan /tmp/kmemleak.loaded
ours /tmp/kmemleak.loaded >/tmp/leaks.loaded
check "loaded: kmemleak finds no leak from our modules ($(grep -c '^unreferenced' /tmp/kmemleak.loaded) objects in all)" \
    test ! -s /tmp/leaks.loaded
head -n 40 /tmp/leaks.loaded | sed 's/^/# /'

for m in $(awk '{ print $1 }' /proc/modules); do rmmod "$m"; done
check "every module unloads" test ! -s /proc/modules

scan /tmp/kmemleak.unloaded
ours /tmp/kmemleak.unloaded >/tmp/leaks.unloaded
check "unloaded: kmemleak finds no leak from our modules ($(grep -c '^unreferenced' /tmp/kmemleak.unloaded) objects in all)" \
    test ! -s /tmp/leaks.unloaded
head -n 40 /tmp/leaks.unloaded | sed 's/^/# /'
done_testing
