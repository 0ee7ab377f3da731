#!/usr/bin/env bash
# User-space instructions per cached hit (valgrind's callgrind counts them:
# stable on a noisy machine), for this build's micq serve and, if given,
# another build's. Counters are zeroed after a warm-up, then wrk sends
# hits for a few seconds. Not part of CI.
# Usage: scripts/measure/hit_instructions.sh [OTHER_MICQ] [page-size]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh
source scripts/measure/lib/hot_room.sh
micq_ensure_packages wrk valgrind redis-server
other=${1:-}; size=${2:-2}
source scripts/measure/lib/scratch.sh
bench_backends 18579 18590 18581
sleep 0.5
target="/v1/rooms/hot/mic-queue?size=$size"
measure() {
  local micq=$1 port=$2
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.$port" "$micq" serve --threads 1 \
    --redis 127.0.0.1:18579 --aggregator http://127.0.0.1:18581 --events-token t --ttl-ms 3600000 \
    --listen "127.0.0.1:$port" >"$work/log.$port" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -sf "localhost:$port/healthz" >/dev/null && break; sleep 0.2; done
  bench_seed_hot_room "$port"
  wrk -t1 -c8 -d2s "http://127.0.0.1:$port$target" >/dev/null  # warm: the page cached, heads made
  callgrind_control -z "$pid" >/dev/null 2>&1
  wrk -t1 -c8 -d5s "http://127.0.0.1:$port$target" >"$work/wrk.$port"
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local requests instructions
  requests=$(awk '/requests in/ {print $1}' "$work/wrk.$port")
  instructions=$(for f in "$work"/cg."$port".*; do callgrind_annotate "$f" 2>/dev/null |
    awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'; done | sort -n | tail -1)
  echo "$micq: $requests hits, $(awk -v a="$instructions" -v b="$requests" 'BEGIN {printf "%.0f", a / b}') instructions per hit"
}
echo "page size $size"
measure build/micq 18580
[ -n "$other" ] && measure "$other" 18586
