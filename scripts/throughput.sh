#!/usr/bin/env bash
# Throughput of the emulator against a fixed-body baseline (issue 11's method), side by side.
#
#     bash scripts/throughput.sh [SECONDS_PER_RUN] [ROUNDS]      (defaults: 5 and 3)
#
# Builds the release emulator and the fixed-body baseline (examples/fixed_body.rs), starts both
# pinned to core 0 (so tokio runs one worker each), and drives them in turn with wrk pinned to
# core 1 on 127.0.0.1, keep-alive, alternating runs. The baseline serves the very bytes the
# emulator answered for the same request. Each case runs ROUNDS times per server; the medians
# (requests/s, p99 latency) and their ratios are printed last. Bounded: about
# SECONDS_PER_RUN × 2 × ROUNDS per case. Needs `wrk` and `taskset` (Debian: apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-5}
ROUNDS=${2:-3}
for tool in wrk taskset curl; do
    command -v "$tool" >/dev/null || { echo "throughput.sh: $tool is needed" >&2; exit 2; }
done
cargo build --release --quiet --bin ecs-emulator --example fixed_body --example signed_load
EMULATOR=target/release/ecs-emulator
BASELINE=target/release/examples/fixed_body
SIGNED_LOAD=target/release/examples/signed_load
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# Starts NAME "$@" pinned to core 0 and waits for its ready line; its address lands in
# $WORK/NAME.addr and its pid in PIDS (run it in this shell, not in $(...)).
start() {
    local name=$1; shift
    local log=$WORK/$name.log
    RUST_LOG=${RUST_LOG:-info} taskset -c 0 "$@" >"$log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 200); do
        if grep -q "ready on http://" "$log"; then
            grep -o "ready on http://[^ ]*" "$log" | head -1 | sed 's/ready on http:\/\///' >"$WORK/$name.addr"
            return
        fi
        sleep 0.05
    done
    echo "throughput.sh: $* did not start: $(cat "$log")" >&2
    exit 1
}

# One wrk run: prints "requests_per_second p99_ms".
drive() {
    local url=$1 connections=$2
    taskset -c 1 wrk -t1 -c"$connections" -d"${SECONDS_PER_RUN}s" --latency "$url" 2>&1 | awk '
        /Requests\/sec/ {rps=$2}
        /^ +99%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; p99=v}
        END {printf "%s %s\n", rps, p99}'
}

# The same with every request signed afresh (examples/signed_load.rs), for a server checking
# signatures: wrk would replay one nonce. Prints "requests_per_second p99_ms".
drive_signed() {
    local url=$1 connections=$2
    local hostport=${url#http://}; hostport=${hostport%%/*}
    local out
    out=$(taskset -c 1 "$SIGNED_LOAD" "$hostport" "/${url#http://*/}" LTAI5tDemoKey0001 demo-secret \
        "$connections" "$SECONDS_PER_RUN")
    read -r rps p99 errors <<<"$out"
    [ "$errors" = 0 ] || { echo "throughput.sh: $errors signed requests were refused" >&2; exit 1; }
    echo "$rps $p99"
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

DATA=$WORK/data.json
"$EMULATOR" generate --instances 10000 --plugins-per-instance 4 --regions 1 --seed 1 > "$DATA"
STATE=$WORK/state.db
declare -A ADDR
start memory "$EMULATOR" --listen 127.0.0.1:0 --data "$DATA"
start durable "$EMULATOR" --listen 127.0.0.1:0 --data "$DATA" --state-file "$STATE"
start strict "$EMULATOR" --listen 127.0.0.1:0 --data "$DATA" --signature strict
ADDR[memory]=$(cat "$WORK/memory.addr")
ADDR[durable]=$(cat "$WORK/durable.addr")
ADDR[strict]=$(cat "$WORK/strict.addr")

# A command-family read needs an invocation: run one and let it finish.
Q="Version=2014-05-26&RegionId=ap-northeast-1"
curl -s "http://${ADDR[memory]}/?Action=RunCommand&$Q&Type=RunShellScript&CommandContent=true&InstanceId.1=i-gen0001000000000000" >/dev/null
sleep 2.5

# name|server|path and query|connections|client (wrk, or signed: every request signed afresh)
PAGE="/?Action=ListPluginStatus&$Q&Format=JSON&Name=ecs_tools_test&MaxResults=10"
CASES=(
    "json_token_10|memory|$PAGE|32|wrk"
    "json_token_10_1conn|memory|$PAGE|1|wrk"
    "xml_token_10|memory|/?Action=ListPluginStatus&$Q&Format=XML&Name=ecs_tools_test&MaxResults=10|32|wrk"
    "error_answer|memory|/?Action=ListPluginStatus&$Q&Format=JSON&Name=no_such_plugin|32|wrk"
    "signature_strict|strict|$PAGE|32|signed"
    "durable_json_token_10|durable|$PAGE|32|wrk"
    "describe_invocations|memory|/?Action=DescribeInvocations&$Q&Format=JSON&MaxResults=10|32|wrk"
)

RESULTS=$WORK/results.txt
for case in "${CASES[@]}"; do
    IFS='|' read -r name server path connections client <<<"$case"
    url="http://${ADDR[$server]}$path"
    body=$WORK/$name.body
    # The baseline serves the answer to the same request (a signed request's answer is the
    # unsigned one's on the memory server).
    [ "$client" = signed ] && answer_url="http://${ADDR[memory]}$path" || answer_url=$url
    content_type=$(curl -s -o "$body" -w '%{content_type}' "$answer_url")
    run=drive; [ "$client" = signed ] && run=drive_signed
    start "base-$name" "$BASELINE" 127.0.0.1:0 "$body" "$content_type"
    base_url="http://$(cat "$WORK/base-$name.addr")$path"
    for round in $(seq "$ROUNDS"); do
        echo "$name emulator $($run "$url" "$connections")" >>"$RESULTS"
        echo "$name baseline $($run "$base_url" "$connections")" >>"$RESULTS"
        echo "== $name round $round/$ROUNDS done" >&2
    done
    kill -TERM "${PIDS[-1]}" 2>/dev/null || true
done

echo
printf "%-24s %12s %12s %8s %10s %10s %8s\n" case emulator/s baseline/s ratio "p99 ms" "base p99" "p99 x"
for case in "${CASES[@]}"; do
    name=${case%%|*}
    e_rps=$(awk -v n="$name" '$1==n && $2=="emulator" {print $3}' "$RESULTS" | median)
    b_rps=$(awk -v n="$name" '$1==n && $2=="baseline" {print $3}' "$RESULTS" | median)
    e_p99=$(awk -v n="$name" '$1==n && $2=="emulator" {print $4}' "$RESULTS" | median)
    b_p99=$(awk -v n="$name" '$1==n && $2=="baseline" {print $4}' "$RESULTS" | median)
    awk -v n="$name" -v e="$e_rps" -v b="$b_rps" -v ep="$e_p99" -v bp="$b_p99" 'BEGIN {
        printf "%-24s %12.0f %12.0f %8.2f %10.2f %10.2f %8.2f\n", n, e, b, e/b, ep, bp, ep/bp }'
done
