#!/bin/bash
# A stranger on h1 sends raw records to h2 (run by scripts/colugo-multihost 2):
# services whose address makes no sense for the interface the records come
# in on (eth0): 127.0.0.1:22, and an address on no network of h2. The
# subscriber on h2 must drop both as invalid and dial neither, and still
# find the real publisher on h1.
# Prints "N passed, N failed" and exits non-zero on any failure.
set -u
: "${TESTNODE:?}" "${STRANGER:?}"
# shellcheck source=multihost_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/multihost_lib.sh"
absent() { ! grep -q -- "$2" "$1"; }

colugo-on h1 "$TESTNODE" pub mhs.topic -i 50 -t 60000 > "$out/pub" 2>&1 &
pids+=($!)
COLUGO_LOG=info colugo-on h2 "$TESTNODE" sub mhs.topic -t 60000 > "$out/sub" 2>&1 &
pids+=($!)
check "the real publisher on h1 is found" wait_for "$out/sub" '^UP tcp://10.77.0.1:' 10

uuid_a=5a1e0000-0000-4000-8000-0000000000aa
uuid_b=5a1e0000-0000-4000-8000-0000000000bb
STRANGER_FROM=10.77.0.1 STRANGER_TO=10.77.0.2 colugo-on h1 "$STRANGER" --service \
    "_mhs.topic._$uuid_a" evil-a.local 127.0.0.1 22 topic=mhs.topic socket_type=1 \
    node_uuid=$uuid_a > "$out/stranger_a" 2>&1 &
pids+=($!)
STRANGER_FROM=10.77.0.1 STRANGER_TO=10.77.0.2 colugo-on h1 "$STRANGER" --service \
    "_mhs.topic._$uuid_b" evil-b.local 192.0.2.1 22 topic=mhs.topic socket_type=1 \
    node_uuid=$uuid_b > "$out/stranger_b" 2>&1 &
pids+=($!)
check "loopback from eth0 is dropped as invalid" \
    wait_for "$out/sub" "ignoring service '_mhs.topic._$uuid_a'.*loopback" 8
check "an address on no network of eth0 is dropped as invalid" \
    wait_for "$out/sub" "ignoring service '_mhs.topic._$uuid_b'.*on no network" 8
sleep 1
check "127.0.0.1:22 is never dialled" absent "$out/sub" "tcp://127.0.0.1:22"
check "192.0.2.1 is never dialled" absent "$out/sub" "tcp://192.0.2.1"
check "neither is found" absent "$out/sub" "found service '_mhs.topic._5a1e"

if [ "$failed" != 0 ]; then
    echo "--- subscriber (h2)"; cat "$out/sub"; echo "--- strangers"; cat "$out"/stranger_*
fi
echo "multihost strangers: $passed passed, $failed failed"
[ "$failed" = 0 ]
