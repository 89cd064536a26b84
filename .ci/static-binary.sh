#!/usr/bin/env bash
# Checks a static build of the emulator (what the release ships):
#
#     bash .ci/static-binary.sh target/x86_64-unknown-linux-gnu/release/ecs-emulator
#
# It must not be a dynamic executable, and it must serve with an empty environment from an
# empty directory (no HOME, no PATH, no file next to it): the ready line, the health route and
# an API call on the built-in demo data, then SIGTERM and exit status 0, leaving the directory
# empty. Every wait is bounded; the emulator is killed if the script stops early.
set -euo pipefail

BIN=$(realpath "$1")
RUN=$(mktemp -d "${TMPDIR:-/tmp}/ecs-emulator-static.XXXXXX")
LOG=$(mktemp "${TMPDIR:-/tmp}/ecs-emulator-static-log.XXXXXX")
PID=
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -KILL "$PID" 2>/dev/null || true
    fi
    rm -rf "$RUN" "$LOG"
}
trap cleanup EXIT
fail() {
    echo "FAIL static binary: $*"
    sed 's/^/    /' "$LOG"
    exit 1
}

# ldd says "statically linked" (a static-pie) or "not a dynamic executable"; a dynamic
# executable gets the list of its libraries.
linked=$(ldd "$BIN" 2>&1 || true)
case "$linked" in
    *"statically linked"* | *"not a dynamic executable"*) echo "ldd: ${linked//[[:space:]]/ }" ;;
    *) fail "$BIN is a dynamic executable: $linked" ;;
esac

cd "$RUN"
env -i "$BIN" --listen 127.0.0.1:0 >"$LOG" 2>&1 &
PID=$!
ADDR=
for _ in $(seq 1 100); do
    ADDR=$(sed -n 's|.*ecs-emulator ready on http://\([^ ]*\).*|\1|p' "$LOG" | head -n1)
    [ -n "$ADDR" ] && break
    kill -0 "$PID" 2>/dev/null || fail "it exited before its ready line"
    sleep 0.1
done
[ -n "$ADDR" ] || fail "no ready line within 10 s"

health=$(curl -fsS --max-time 5 "http://$ADDR/_emulator/health") || fail "GET /_emulator/health"
[ "$health" = '{"status":"ok"}' ] || fail "GET /_emulator/health answered $health"
answer=$(curl -fsS --max-time 5 "http://$ADDR/?Action=ListPluginStatus&Version=2014-05-26&Format=JSON&RegionId=cn-hangzhou&Name=ecs_tools_test&AccessKeyId=LTAI5tDemoKey0001") \
    || fail "ListPluginStatus"
grep -q '"TotalCount":12' <<<"$answer" || fail "ListPluginStatus answered $answer"

kill -TERM "$PID"
for _ in $(seq 1 100); do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$PID" 2>/dev/null && fail "still running 10 s after SIGTERM"
status=0
wait "$PID" || status=$?
PID=
[ "$status" -eq 0 ] || fail "exit status $status after SIGTERM"
[ -z "$(ls -A "$RUN")" ] || fail "it left files in its working directory: $(ls -A "$RUN")"
echo "static binary: ready on $ADDR with an empty environment, answered, exit 0 after SIGTERM"
