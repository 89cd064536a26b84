#!/usr/bin/env bash
# SDK test suite: drives the official Alibaba Cloud clients (Python Tea V3 and V1, legacy Python,
# Node Tea V3 and V1, Node pop-core GET and POST) against the release binary, serving
# tests/sdk/fixture.json with --signature strict; then runs the SDK part of the CI recipes
# (recipes.py) against a second emulator serving the demo data.
#
#     bash tests/sdk/run.sh            (from any directory)
#
# Sets up what is missing or stale (tests/sdk/.venv from requirements.txt, tests/sdk/node_modules
# from package-lock.json, target/release/ecs-emulator), starts the emulator on a free port, runs
# python_clients.py and node_clients.js, stops the emulator, and ends with `N passed, M failed`.
# The emulator's control plane (faults, request journal, which the drivers use) is guarded by a
# random admin token, handed to the emulator and the drivers as ECS_EMULATOR_ADMIN_TOKEN.
# Exits non-zero if any check failed. ECS_EMULATOR_BIN=path skips the cargo build and uses that
# binary instead.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 2
SDK=tests/sdk
STARTED=$(date +%s)

# sha, abort, npm_ci, release_binary, ready_address, run_driver, stop_emulator, summarize.
. tests/lib/harness.sh
begin_run sdk

# 1. Python clients: a virtualenv, reinstalled when requirements.txt changes.
VENV=$SDK/.venv
if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV"
    python3 -m venv "$VENV" || abort "python3 -m venv $VENV failed"
fi
if [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$(sha $SDK/requirements.txt)" ]; then
    echo "== pip install -r $SDK/requirements.txt"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r $SDK/requirements.txt \
        || abort "pip install -r $SDK/requirements.txt failed"
    sha $SDK/requirements.txt > "$VENV/.requirements.sha256"
fi

# 2. Node clients: npm ci when node_modules is missing or older than the lock file.
# Install scripts are skipped: the only one (@alicloud/openapi-core's) installs TypeScript for
# Node 10 and 12 and does nothing on later versions.
npm_ci $SDK --ignore-scripts

# 3. The release binary (cargo rebuilds only what changed).
release_binary

# 4. The emulator on a free port. Its stdout goes to a file, so it is always drained; the
# address comes from the ready line.
LOG=$WORK/emulator.log
# The token goes through the environment, not the command line (where ps would show it).
ECS_EMULATOR_ADMIN_TOKEN=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
export ECS_EMULATOR_ADMIN_TOKEN
RUST_LOG=warn "$BIN" --listen 127.0.0.1:0 --data $SDK/fixture.json --signature strict >"$LOG" 2>&1 &
EMULATOR_PID=$!
EMULATORS+=("$EMULATOR_PID")
ADDR=$(ready_address "$LOG" "$EMULATOR_PID")
if [ -z "$ADDR" ]; then
    echo "emulator output:"
    sed 's/^/    /' "$LOG"
    abort "the emulator ($BIN --signature strict) did not print its ready line within 10 s"
fi
echo "== emulator ready on http://$ADDR (pid $EMULATOR_PID)"

# 5. The drivers. Each prints PASS/FAIL/SKIP lines.
run_driver python_clients "$VENV/bin/python" $SDK/python_clients.py
run_driver node_clients node $SDK/node_clients.js

# The CI recipes (examples/ci/, docs/ci.md) use the demo data's key pair: a second emulator
# serves the built-in demo data, with signatures checked, for recipes.py.
DEMO_LOG=$WORK/demo.log
RUST_LOG=warn "$BIN" --listen 127.0.0.1:0 --signature strict >"$DEMO_LOG" 2>&1 &
DEMO_PID=$!
EMULATORS+=("$DEMO_PID")
DEMO_ADDR=$(ready_address "$DEMO_LOG" "$DEMO_PID")
if [ -n "$DEMO_ADDR" ]; then
    echo "== demo-data emulator ready on http://$DEMO_ADDR (pid $DEMO_PID)"
    ADDR=$DEMO_ADDR run_driver recipes "$VENV/bin/python" $SDK/recipes.py
else
    echo "FAIL recipes setup: the demo-data emulator did not print its ready line within 10 s" \
        | tee -a "$RESULTS"
    sed 's/^/    /' "$DEMO_LOG"
fi

# 6. Stop the emulators (SIGTERM: each finishes what is in flight and exits 0).
stop_emulator "$DEMO_PID" "$DEMO_LOG"
stop_emulator "$EMULATOR_PID" "$LOG"

# 7. Summary.
SKIPPED=$(grep -c '^SKIP ' "$RESULTS")
echo
echo "== summary ($(($(date +%s) - STARTED)) s)"
awk '/^(PASS|FAIL|SKIP) / { n[$2] = 1; c[$2, $1]++ }
     END { for (k in n) printf "  %-20s %3d passed %3d failed %3d skipped\n", k,
           c[k, "PASS"], c[k, "FAIL"], c[k, "SKIP"] }' "$RESULTS" | sort
if [ "$SKIPPED" -gt 0 ]; then
    echo "skipped: $SKIPPED"
fi
summarize
