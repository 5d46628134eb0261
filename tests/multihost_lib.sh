# multihost_lib.sh: what the scripts run by scripts/colugo-multihost share
# (sourced): a scratch directory $out, the pids to kill at the end, and
# bounded assertions that count into $passed and $failed.
out=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$out"; }
trap cleanup EXIT
passed=0 failed=0
check() {   # check NAME COMMAND...: one assertion
    if "${@:2}"; then passed=$((passed + 1)); echo "ok   $1"
    else failed=$((failed + 1)); echo "FAIL $1"; fi
}
# wait_for FILE PATTERN SECONDS: bounded wait for a line in a node's output
wait_for() {
    local deadline=$((SECONDS + $3))
    while [ $SECONDS -lt "$deadline" ]; do
        grep -q -- "$2" "$1" && return 0
        sleep 0.05
    done
    return 1
}
