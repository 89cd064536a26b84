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

# sha, abort, npm_ci, release_binary, ready_address, run_driver, stop_emulator, summarize.
. tests/lib/harness.sh
begin_run browser

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

# 2. playwright-core, as package-lock.json pins it.
npm_ci $DIR

# 3. The release binary (cargo rebuilds only what changed).
release_binary

# 4. The emulator on a free port, on the built-in demo data, behind a random admin token (given
# through the environment, not the command line, where ps would show it). Its output goes to a
# file, so it is always drained; the address comes from the ready line.
LOG=$WORK/emulator.log
ECS_EMULATOR_ADMIN_TOKEN=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
export ECS_EMULATOR_ADMIN_TOKEN
RUST_LOG=warn "$BIN" --listen 127.0.0.1:0 >"$LOG" 2>&1 &
EMULATOR_PID=$!
EMULATORS+=("$EMULATOR_PID")
ADDR=$(ready_address "$LOG" "$EMULATOR_PID")
if [ -z "$ADDR" ]; then
    echo "emulator output:"
    sed 's/^/    /' "$LOG"
    abort "the emulator ($BIN) did not print its ready line within 10 s"
fi
echo "== emulator ready on http://$ADDR (pid $EMULATOR_PID)"

# A second one checking signatures, without a token, for the string-to-sign check.
STRICT_LOG=$WORK/strict.log
RUST_LOG=warn env -u ECS_EMULATOR_ADMIN_TOKEN "$BIN" --listen 127.0.0.1:0 --signature strict >"$STRICT_LOG" 2>&1 &
STRICT_PID=$!
EMULATORS+=("$STRICT_PID")
STRICT_ADDR=$(ready_address "$STRICT_LOG" "$STRICT_PID")
[ -n "$STRICT_ADDR" ] || abort "the --signature strict emulator did not print its ready line within 10 s"
export STRICT_URL=http://$STRICT_ADDR

# 5. The driver: PASS/FAIL lines.
SHOTS=$ROOT/target/browser-screenshots
mkdir -p "$SHOTS"
export SCREENSHOTS=$SHOTS CHROMIUM
run_driver dashboard node $DIR/dashboard.js

# 6. Stop the emulators.
stop_emulator "$EMULATOR_PID" "$LOG"
stop_emulator "$STRICT_PID" "$STRICT_LOG"

# 7. Summary.
echo
echo "== summary ($(($(date +%s) - STARTED)) s); screenshots in $SHOTS"
summarize
