#!/usr/bin/env bash
# Resident memory per plug-in record: the emulator's resident set on a generated data set less
# its resident set on an empty one, divided by the records.
#
#     bash scripts/memory.sh [INSTANCES] [PLUGINS_PER_INSTANCE]     (defaults: 100000 and 20)
#
# Builds the release binary, generates the data (`ecs-emulator generate`), starts the emulator
# on each data set in turn (memory mode, no state file), waits for the ready line and a moment
# for allocations to settle, reads VmRSS from /proc, and stops it. Bounded: one start each.
set -euo pipefail
cd "$(dirname "$0")/.."
INSTANCES=${1:-100000}
PLUGINS=${2:-20}
cargo build --release --quiet --bin ecs-emulator
BIN=target/release/ecs-emulator
WORK=$(mktemp -d)
PID=
cleanup() {
    [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# Resident set (KiB) of the emulator serving $1, once ready.
resident_kib() {
    local log=$WORK/log
    RUST_LOG=warn "$BIN" --listen 127.0.0.1:0 --data "$1" >"$log" 2>&1 &
    PID=$!
    for _ in $(seq 1200); do
        grep -q "ready on http://" "$log" && break
        kill -0 "$PID" 2>/dev/null || { echo "memory.sh: the emulator stopped: $(cat "$log")" >&2; exit 1; }
        sleep 0.1
    done
    sleep 1
    awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"
    kill -TERM "$PID"
    wait "$PID" 2>/dev/null || true
    PID=
}

echo '{"instances": []}' >"$WORK/empty.json"
"$BIN" generate --instances "$INSTANCES" --plugins-per-instance "$PLUGINS" --seed 1 >"$WORK/data.json"
RECORDS=$((INSTANCES * PLUGINS))
EMPTY=$(resident_kib "$WORK/empty.json")
FULL=$(resident_kib "$WORK/data.json")
awk -v e="$EMPTY" -v f="$FULL" -v r="$RECORDS" -v i="$INSTANCES" 'BEGIN {
    printf "records:          %d (%d instances)\n", r, i
    printf "resident, empty:  %.1f MiB\n", e / 1024
    printf "resident, loaded: %.1f MiB\n", f / 1024
    printf "bytes per record: %.0f\n", (f - e) * 1024 / r }'
