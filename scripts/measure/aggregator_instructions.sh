#!/usr/bin/env bash
# User-space instructions per aggregator batch (10 uids x 24 kinds x 1 KB
# records) under callgrind: stable where CPU time is not (this 2-core VM
# shares its cores with the load generator and the sim). Counts only the
# batches sent after a warm-up. Not part of CI.
# Usage: [MICQ=path/to/micq] [LATENCY_MS=0] scripts/measure/aggregator_instructions.sh [batches]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh
micq_ensure_packages valgrind curl
batches=${1:-200}
micq=${MICQ:-build/micq}
source scripts/measure/lib/scratch.sh
"$micq" sim --threads 1 --kinds 24 --latency-ms "${LATENCY_MS:-0}" --jitter-ms "${LATENCY_MS:-0}" --payload-bytes 1024 --listen 127.0.0.1:18390 >/dev/null 2>&1 &
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/callgrind.out" \
  "$micq" aggregator --threads 1 --kinds 24 --downstream http://127.0.0.1:18390 --timeout-ms 5000 \
  --listen 127.0.0.1:18381 >/dev/null 2>"$work/valgrind.log" &
agg=$!
body='{"uids":["u1","u2","u3","u4","u5","u6","u7","u8","u9","u10"]}'
batch() { curl -sf -XPOST -d "$body" http://127.0.0.1:18381/v1/privileges/batch >/dev/null; }
for _ in $(seq 100); do batch && break; sleep 0.1; done  # up (valgrind starts slowly)
for _ in $(seq 20); do batch; done                      # warm-up, not counted
callgrind_control -i on "$agg" >/dev/null 2>&1
for _ in $(seq "$batches"); do batch; done
callgrind_control -d "$agg" >/dev/null 2>&1
dump=$(ls -t "$work"/callgrind.out.* | head -1)
total=$(callgrind_annotate "$dump" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "instructions per batch (user space): $((total / batches))"
echo "top functions:"
callgrind_annotate --inclusive=no "$dump" | grep -E '^ *[0-9,]+ \(' | head -12 | cut -c1-160
