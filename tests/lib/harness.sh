# shellcheck shell=bash
# Shared by the test runners that drive a real emulator binary (tests/sdk/run.sh,
# tests/browser/run.sh): set-up, the emulator's start and stop, the closing summary.
# Sourced, not run, from the repository's root; `begin_run NAME` first.

# Begins a run: 127.0.0.1 reached directly even where a proxy is configured, a scratch folder
# WORK with RESULTS (the PASS/FAIL lines) in it, and at exit every emulator in EMULATORS stopped
# and WORK removed.
begin_run() {
    export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
    export no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/ecs-emulator-$1.XXXXXX")
    RESULTS=$WORK/results
    : >"$RESULTS"
    EMULATORS=()
    trap end_run EXIT
}

end_run() {
    local pid
    for pid in "${EMULATORS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
        fi
    done
    rm -rf "$WORK"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# Stops the run before any check could start: the reason, then the closing line.
abort() {
    echo "FAIL setup: $*"
    echo "0 passed, 1 failed"
    exit 1
}

# `npm ci` in DIR when its node_modules is missing or older than its lock file; EXTRA are more
# npm flags.
npm_ci() {
    local dir=$1
    shift
    if [ "$(cat "$dir/node_modules/.package-lock.sha256" 2>/dev/null)" != "$(sha "$dir/package-lock.json")" ]; then
        echo "== npm ci in $dir"
        (cd "$dir" && npm ci "$@" --no-audit --no-fund --loglevel=error) || abort "npm ci in $dir failed"
        sha "$dir/package-lock.json" > "$dir/node_modules/.package-lock.sha256"
    fi
}

# Sets BIN: $ECS_EMULATOR_BIN, else the release binary (cargo rebuilds only what changed).
release_binary() {
    if [ -n "${ECS_EMULATOR_BIN:-}" ]; then
        BIN=$ECS_EMULATOR_BIN
    else
        echo "== cargo build --release --locked"
        cargo build --release --locked --quiet || abort "cargo build --release --locked failed"
        BIN=target/release/ecs-emulator
    fi
    [ -x "$BIN" ] || abort "no executable at $BIN"
}

# The address from an emulator's ready line in LOG, waiting up to 10 s while PID lives.
ready_address() {
    local log=$1 pid=$2 addr=
    for _ in $(seq 1 100); do
        addr=$(sed -n 's|.*ecs-emulator ready on http://\([^ ]*\).*|\1|p' "$log" | head -n1)
        [ -n "$addr" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "$addr"
}

# Runs a driver (`run_driver NAME COMMAND...`, given http://$ADDR last) within 300 s, its lines
# into RESULTS. A driver that fails without a FAIL line (a crash, a timeout) counts as one
# failure.
run_driver() {
    local name=$1
    shift
    echo "== $name"
    local out=$WORK/$name.out
    # shellcheck disable=SC2153 # ADDR is the runner's: the emulator's address.
    timeout 300 "$@" "http://$ADDR" 2>"$WORK/$name.err" | tee "$out"
    local status=${PIPESTATUS[0]}
    cat "$out" >>"$RESULTS"
    if [ "$status" -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
        local why="exited with status $status"
        [ "$status" -eq 124 ] && why="timed out after 300 s"
        local stderr
        stderr=$(tail -n 5 "$WORK/$name.err" | tr '\n' ' ')
        echo "FAIL $name driver: $why; stderr: $stderr" | tee -a "$RESULTS"
    elif [ -s "$WORK/$name.err" ]; then
        echo "($name stderr:)"
        sed 's/^/    /' "$WORK/$name.err" | tail -n 20
    fi
}

# Stops the emulator PID (SIGTERM: it finishes what is in flight and exits 0) and says so when it
# did not exit 0 or logged warnings or errors to LOG.
stop_emulator() {
    local pid=$1 log=$2 status
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"
    status=$?
    if [ "$status" -ne 0 ]; then
        echo "note: the emulator exited with status $status after SIGTERM; its output:"
        tail -n 20 "$log" | sed 's/^/    /'
    elif grep -qE ' (ERROR|WARN) ' "$log"; then
        echo "note: the emulator logged warnings or errors:"
        grep -E ' (ERROR|WARN) ' "$log" | tail -n 20 | sed 's/^/    /'
    fi
}

# The closing lines: the failed checks, then `N passed, M failed`; true when none failed.
summarize() {
    local passed failed
    passed=$(grep -c '^PASS ' "$RESULTS")
    failed=$(grep -c '^FAIL ' "$RESULTS")
    if [ "$failed" -gt 0 ]; then
        echo "failed checks:"
        grep '^FAIL ' "$RESULTS" | sed 's/^/  /'
    fi
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}
