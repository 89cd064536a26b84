#!/usr/bin/env bash
# Browser test of the dashboard (/_emulator/ui): headless Chromium, driven by playwright-core
# from dashboard.js, against the release binary serving the built-in demo data behind a random
# admin token.
#
#     bash tests/browser/run.sh            (from any directory)
#
# Sets up what is missing or stale (Debian's chromium, tests/browser/node_modules from
# package-lock.json, target/release/ecs-emulator), starts the emulator on a free port, runs
# dashboard.js, stops the emulator, and ends with `N passed, M failed`. Screenshots of each view
# go to target/browser-screenshots/. Exits non-zero if any check failed. ECS_EMULATOR_BIN=path
# skips the cargo build and uses that binary instead (e.g. target/debug/ecs-emulator); CHROMIUM=path
# another browser than Debian's /usr/bin/chromium.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 2
DIR=tests/browser
STARTED=$(date +%s)

# The browser and Node must reach 127.0.0.1 directly even where a proxy is configured.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ecs-emulator-browser.XXXXXX")
EMULATOR_PID=
cleanup() {
    if [ -n "$EMULATOR_PID" ] && kill -0 "$EMULATOR_PID" 2>/dev/null; then
        kill -TERM "$EMULATOR_PID" 2>/dev/null
        wait "$EMULATOR_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# Stops the run before any check could start: the reason, then the closing line.
abort() {
    echo "FAIL setup: $*"
    echo "0 passed, 1 failed"
    exit 1
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# 1. Chromium from Debian (playwright's own browser download cannot be used here). CHROMIUM=path
# uses another Chromium-based browser instead (a GitHub runner's /usr/bin/google-chrome, say).
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ] && [ "$CHROMIUM" = /usr/bin/chromium ]; then
    SUDO=
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    echo "== apt-get install chromium"
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; } \
        >"$WORK/apt.log" 2>&1 || { tail -n 20 "$WORK/apt.log"; abort "apt-get install chromium failed"; }
fi
[ -x "$CHROMIUM" ] || abort "no executable at $CHROMIUM"

# 2. playwright-core: npm ci when node_modules is missing or older than the lock file.
if [ "$(cat $DIR/node_modules/.package-lock.sha256 2>/dev/null)" != "$(sha $DIR/package-lock.json)" ]; then
    echo "== npm ci in $DIR"
    (cd $DIR && npm ci --no-audit --no-fund --loglevel=error) || abort "npm ci in $DIR failed"
    sha $DIR/package-lock.json > $DIR/node_modules/.package-lock.sha256
fi

# 3. The release binary (cargo rebuilds only what changed).
if [ -n "${ECS_EMULATOR_BIN:-}" ]; then
    BIN=$ECS_EMULATOR_BIN
else
    echo "== cargo build --release --locked"
    cargo build --release --locked --quiet || abort "cargo build --release --locked failed"
    BIN=target/release/ecs-emulator
fi
[ -x "$BIN" ] || abort "no executable at $BIN"

# 4. The emulator on a free port, on the built-in demo data, behind a random admin token (given
# through the environment, not the command line, where ps would show it). Its output goes to a
# file, so it is always drained; the address comes from the ready line.
LOG=$WORK/emulator.log
ECS_EMULATOR_ADMIN_TOKEN=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
export ECS_EMULATOR_ADMIN_TOKEN
RUST_LOG=warn "$BIN" --listen 127.0.0.1:0 >"$LOG" 2>&1 &
EMULATOR_PID=$!
ADDR=
for _ in $(seq 1 100); do
    ADDR=$(sed -n 's|.*ecs-emulator ready on http://\([^ ]*\).*|\1|p' "$LOG" | head -n1)
    [ -n "$ADDR" ] && break
    kill -0 "$EMULATOR_PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$ADDR" ]; then
    echo "emulator output:"
    sed 's/^/    /' "$LOG"
    abort "the emulator ($BIN) did not print its ready line within 10 s"
fi
echo "== emulator ready on http://$ADDR (pid $EMULATOR_PID)"

# 5. The driver. It prints PASS/FAIL lines; a driver that fails without a FAIL line (a crash, a
# timeout) counts as one failure.
SHOTS=$ROOT/target/browser-screenshots
mkdir -p "$SHOTS"
export SCREENSHOTS=$SHOTS CHROMIUM
RESULTS=$WORK/results
echo "== dashboard.js"
timeout 300 node $DIR/dashboard.js "http://$ADDR" 2>"$WORK/driver.err" | tee "$RESULTS"
STATUS=${PIPESTATUS[0]}
if [ "$STATUS" -ne 0 ] && ! grep -q '^FAIL ' "$RESULTS"; then
    WHY="exited with status $STATUS"
    [ "$STATUS" -eq 124 ] && WHY="timed out after 300 s"
    echo "FAIL dashboard driver: $WHY; stderr: $(tail -n 5 "$WORK/driver.err" | tr '\n' ' ')" | tee -a "$RESULTS"
elif [ -s "$WORK/driver.err" ]; then
    echo "(driver stderr:)"
    tail -n 20 "$WORK/driver.err" | sed 's/^/    /'
fi

# 6. Stop the emulator (SIGTERM: it finishes what is in flight and exits 0).
kill -TERM "$EMULATOR_PID" 2>/dev/null
wait "$EMULATOR_PID"
EMULATOR_STATUS=$?
EMULATOR_PID=
if [ "$EMULATOR_STATUS" -ne 0 ]; then
    echo "note: the emulator exited with status $EMULATOR_STATUS after SIGTERM; its output:"
    tail -n 20 "$LOG" | sed 's/^/    /'
elif grep -qE ' (ERROR|WARN) ' "$LOG"; then
    echo "note: the emulator logged warnings or errors:"
    grep -E ' (ERROR|WARN) ' "$LOG" | tail -n 20 | sed 's/^/    /'
fi

# 7. Summary.
PASSED=$(grep -c '^PASS ' "$RESULTS")
FAILED=$(grep -c '^FAIL ' "$RESULTS")
echo
echo "== summary ($(($(date +%s) - STARTED)) s); screenshots in $SHOTS"
if [ "$FAILED" -gt 0 ]; then
    echo "failed checks:"
    grep '^FAIL ' "$RESULTS" | sed 's/^/  /'
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
