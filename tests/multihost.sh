#!/bin/bash
# Two hosts on a virtual bridge (run by scripts/colugo-multihost 2): a
# publisher on h1, a subscriber on h2.
#  1. The subscriber finds the publisher through h2's own avahi-daemon and
#     connects to h1's bridge address, never to 127.0.0.1.
#  2. Messages arrive.
#  3. The cable of h1 is cut: no goodbye reaches h2 and mDNS still lists the
#     publisher, but the heartbeat reports the peer down within ~3 s.
#  4. The cable comes back: the subscriber reconnects by itself.
# Prints "N passed, N failed" and exits non-zero on any failure.
set -u
: "${TESTNODE:?}"
# shellcheck source=multihost_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/multihost_lib.sh"
# wait_for_more FILE PATTERN N: bounded wait for more than N lines matching
wait_for_more() {
    local deadline=$((SECONDS + 15))
    while [ $SECONDS -lt "$deadline" ]; do
        [ "$(grep -c -- "$2" "$1")" -gt "$3" ] && return 0
        sleep 0.05
    done
    return 1
}
now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }

colugo-on h1 "$TESTNODE" pub mh.topic -i 50 -t 120000 > "$out/pub" 2>&1 &
pids+=($!)
colugo-on h2 "$TESTNODE" sub mh.topic -t 120000 > "$out/sub" 2>&1 &
pids+=($!)

check "subscriber on h2 connects to h1" wait_for "$out/sub" '^UP ' 10
up=$(grep -m1 '^UP ' "$out/sub" | cut -d' ' -f2)
echo "     endpoint: $up"
check "endpoint is h1's bridge address" [ "${up%:*}" = "tcp://10.77.0.1" ]
check "messages arrive across hosts" wait_for "$out/sub" '^MSG ' 5

cut_at=$(now_ms)
colugo-link h1 down
check "cut cable noticed by the heartbeat" wait_for "$out/sub" '^DOWN ' 8
down_ms=$(( $(now_ms) - cut_at ))
echo "     noticed after ${down_ms} ms"
check "noticed within 4 s" [ "$down_ms" -lt 4000 ]

colugo-link h1 up
before=$(grep -c '^UP ' "$out/sub")
check "reconnects when the cable is back" wait_for_more "$out/sub" '^UP ' "$before"
msgs=$(grep -c '^MSG ' "$out/sub")
check "messages flow again" wait_for_more "$out/sub" '^MSG ' "$msgs"

if [ "$failed" != 0 ]; then
    echo "--- publisher (h1)"; cat "$out/pub"; echo "--- subscriber (h2)"; cat "$out/sub"
fi
echo "multihost: $passed passed, $failed failed"
[ "$failed" = 0 ]
