#!/bin/bash
# Runs real nodes under valgrind inside a colugo-netns namespace: a
# publisher and a subscriber in two processes that find each other through
# avahi, exchange messages and stop; then a node with a publisher and two
# subscribers. Fails on any memory error or definite leak.
set -u
: "${TESTNODE:?}" "${VALGRIND:=valgrind}"
vg=("$VALGRIND" --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

timeout -s KILL 60 "${vg[@]}" "$TESTNODE" pub vg.topic -i 50 -t 20000 > "$out/pub" 2>&1 &
pub=$!
timeout -s KILL 60 "${vg[@]}" "$TESTNODE" sub vg.topic -n 10 -t 20000 > "$out/sub" 2>&1
sub_rc=$?
kill -TERM "$pub" 2>/dev/null
wait "$pub"
pub_rc=$?
timeout -s KILL 60 "${vg[@]}" "$TESTNODE" samenode vg.same -i 20 -n 20 -t 20000 > "$out/same" 2>&1
same_rc=$?
for f in pub sub same; do echo "--- $f"; cat "$out/$f"; done
echo "exit codes: pub $pub_rc, sub $sub_rc, samenode $same_rc"
grep -q '^DONE' "$out/sub" && grep -q '^DONE' "$out/same" || { echo "FAIL: no DONE"; exit 1; }
[ "$pub_rc" = 0 ] && [ "$sub_rc" = 0 ] && [ "$same_rc" = 0 ] || { echo "FAIL"; exit 1; }
echo "valgrind: 3 passed, 0 failed"
