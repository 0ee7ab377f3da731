#!/usr/bin/env bash
# CPU per 1,000 requests of serve, aggregator and sim for one hot room,
# for each strategy and JSON engine, one after another on the same
# Redis/aggregator/sim (read from /proc/<pid>/stat). Closed-loop wrk load,
# so compare the per-request costs, not the request rates. Not part of CI.
# Usage: scripts/measure/serve_cpu.sh [seconds-per-config] [page-size]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh
micq_ensure_packages wrk redis-server
seconds=${1:-5}; size=${2:-10}
source scripts/measure/lib/scratch.sh
redis-server --port 18479 --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null &
build/micq sim --threads 1 --latency-ms 1 --jitter-ms 1 --listen 127.0.0.1:18490 >/dev/null 2>&1 &
sim=$!
build/micq aggregator --threads 1 --downstream http://127.0.0.1:18490 --listen 127.0.0.1:18481 >/dev/null 2>&1 &
agg=$!
sleep 1
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)
printf "%-24s %10s %14s %14s %14s %12s\n" config "req/s" "serve ms/1k" "aggr ms/1k" "sim ms/1k" "batches/1k"
for config in "direct baseline 20" "direct fast $size" "singleflight fast $size" "cached fast $size"; do
  set -- $config
  build/micq serve --threads 1 --strategy "$1" --json "$2" --redis 127.0.0.1:18479 \
    --aggregator http://127.0.0.1:18481 --events-token t --listen 127.0.0.1:18480 >/dev/null 2>&1 &
  serve=$!
  sleep 0.5
  events='{"events":['
  for i in $(seq 1 30); do events+="{\"type\":\"gift\",\"uid\":\"u$i\",\"value\":$((i * 10))},"; done
  curl -sf -H 'Authorization: Bearer t' -d "${events%,}]}" http://127.0.0.1:18480/v1/rooms/hot/events >/dev/null
  b0=$(curl -s http://127.0.0.1:18481/stats | sed 's/.*"batches_total":\([0-9]*\).*/\1/')
  s0=$(cpu $serve); a0=$(cpu $agg); m0=$(cpu $sim)
  out=$(wrk -t1 -c16 -d"${seconds}s" "http://127.0.0.1:18480/v1/rooms/hot/mic-queue?size=$3")
  s1=$(cpu $serve); a1=$(cpu $agg); m1=$(cpu $sim)
  b1=$(curl -s http://127.0.0.1:18481/stats | sed 's/.*"batches_total":\([0-9]*\).*/\1/')
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  rate=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  awk -v name="$1+$2 size $3" -v r="$requests" -v rate="$rate" -v s=$((s1 - s0)) -v a=$((a1 - a0)) \
      -v m=$((m1 - m0)) -v b=$((b1 - b0)) -v t="$tick" 'BEGIN {
    printf "%-24s %10.0f %14.1f %14.1f %14.1f %12.2f\n", name, rate, s / t * 1e6 / r, a / t * 1e6 / r, m / t * 1e6 / r, b * 1000 / r }'
  kill $serve; wait $serve 2>/dev/null || true
done
