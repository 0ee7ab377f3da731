#!/usr/bin/env bash
# CPU per aggregator batch (10 uids x 24 kinds x 1 KB records), from
# /proc/<pid>/stat over a wrk run against a zero-latency sim. Not part of CI.
# Usage: [MICQ=path/to/micq] [SIM_MICQ=path] [LATENCY_MS=0] scripts/measure/aggregator_cpu.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh
micq_ensure_packages wrk
seconds=${1:-10}; connections=${2:-8}
micq=${MICQ:-build/micq}  # another binary to compare, e.g. MICQ=/tmp/micq-old
sim_micq=${SIM_MICQ:-$micq}  # the sim's binary, if it should differ
source scripts/measure/lib/scratch.sh
# LATENCY_MS: the sim's median latency (0: answers as fast as it can).
"$sim_micq" sim --threads 1 --kinds 24 --latency-ms "${LATENCY_MS:-0}" --jitter-ms "${LATENCY_MS:-0}" --payload-bytes 1024 --listen 127.0.0.1:18290 >/dev/null 2>&1 &
sim=$!
"$micq" aggregator --threads 1 --kinds 24 --downstream http://127.0.0.1:18290 --timeout-ms 1000 \
  --listen 127.0.0.1:18281 >/dev/null 2>&1 &
agg=$!
sleep 1
cat > "$work/batch.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"uids":["u1","u2","u3","u4","u5","u6","u7","u8","u9","u10"]}'
wrk.headers["Content-Type"] = "application/json"
LUA
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
user_cpu() { awk '{print $14}' "/proc/$1/stat"; }
# Sleeps (voluntary context switches) over all of a process's threads.
sleeps() { cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt_switches/ {n += $2} END {print n}'; }
batches() { curl -s http://127.0.0.1:18281/stats | sed 's/.*"batches_total":\([0-9]*\).*/\1/'; }
tick=$(getconf CLK_TCK)
a0=$(cpu $agg); u0=$(user_cpu $agg); z0=$(sleeps $agg); s0=$(cpu $sim); b0=$(batches)
wrk -t1 -c"$connections" -d"${seconds}s" -s "$work/batch.lua" http://127.0.0.1:18281/v1/privileges/batch | grep -E "Requests/sec|Latency"
a1=$(cpu $agg); u1=$(user_cpu $agg); z1=$(sleeps $agg); s1=$(cpu $sim); b1=$(batches)
n=$((b1 - b0))
awk -v a=$((a1 - a0)) -v u=$((u1 - u0)) -v z=$((z1 - z0)) -v s=$((s1 - s0)) -v n="$n" -v t="$tick" 'BEGIN {
  printf "batches: %d\naggregator CPU per batch: %.0f us (user %.0f, system %.0f)\n", n, a / t / n * 1e6, u / t / n * 1e6, (a - u) / t / n * 1e6
  printf "aggregator sleeps per batch: %.1f\nsim CPU per batch (24 calls): %.0f us\n", z / n, s / t / n * 1e6 }'
