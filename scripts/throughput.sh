#!/usr/bin/env bash
# Throughput of the emulator against a fixed-body baseline (issue 11's method), side by side.
#
#     bash scripts/throughput.sh [SECONDS_PER_RUN] [ROUNDS]      (defaults: 5 and 3)
#
# Builds the release emulator and the fixed-body baseline (examples/fixed_body.rs), starts both
# pinned to core 0 (so tokio runs one worker each), and drives them in turn with wrk pinned to
# core 1 on 127.0.0.1, keep-alive, alternating runs. The baseline serves the very bytes the
# emulator answered for the same request. Each case runs ROUNDS times per server; the medians
# (requests/s, p99 latency, and the server's CPU time per request from /proc) and their ratios
# are printed last. Bounded: about
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
    echo $! >"$WORK/$name.pid"
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

# CPU time (user + system, in clock ticks) the server NAME has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$(cat "$WORK/$1.pid")/stat"; }

# One measured run of server NAME: "requests_per_second p99_ms cpu_us_per_request". The CPU
# time the server spent per answer is a second view of the same run that a busy machine
# disturbs less than the rate: it counts only the server's own work.
measure() {
    local server=$1 url=$2 connections=$3
    local before after rps p99
    before=$(cpu_ticks "$server")
    read -r rps p99 <<<"$($run "$url" "$connections")"
    after=$(cpu_ticks "$server")
    awk -v r="$rps" -v p="$p99" -v t="$((after - before))" -v s="$SECONDS_PER_RUN" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%s %s %.2f\n", r, p, t * 1e6 / hz / (r * s) }'
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
        echo "$name emulator $(measure "$server" "$url" "$connections")" >>"$RESULTS"
        echo "$name baseline $(measure "base-$name" "$base_url" "$connections")" >>"$RESULTS"
        echo "== $name round $round/$ROUNDS done" >&2
    done
    kill -TERM "${PIDS[-1]}" 2>/dev/null || true
done

echo
printf "%-24s %11s %11s %6s %8s %8s %6s %9s %9s %6s\n" case emulator/s baseline/s ratio \
    "p99 ms" "base p99" "p99 x" "cpu us/rq" "base us" "cpu x"
for case in "${CASES[@]}"; do
    name=${case%%|*}
    column() { awk -v n="$name" -v who="$1" -v c="$2" '$1==n && $2==who {print $c}' "$RESULTS" | median; }
    awk -v n="$name" -v e="$(column emulator 3)" -v b="$(column baseline 3)" \
        -v ep="$(column emulator 4)" -v bp="$(column baseline 4)" \
        -v ec="$(column emulator 5)" -v bc="$(column baseline 5)" 'BEGIN {
        printf "%-24s %11.0f %11.0f %6.2f %8.2f %8.2f %6.2f %9.2f %9.2f %6.2f\n",
            n, e, b, e/b, ep, bp, ep/bp, ec, bc, bc/ec }'
done
