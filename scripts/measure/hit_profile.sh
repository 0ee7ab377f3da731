#!/usr/bin/env bash
# Where a cached hit's CPU goes: perf samples micq serve (one worker, 64
# connections) while wrk asks for one hot room's page, and prints the
# share of samples by object (kernel, micq, libc, ...) and the top
# symbols. PROFILE_FLAGS adds serve flags (e.g. "--sendfile-min-bytes 1").
# Not part of CI.
# Usage: scripts/measure/hit_profile.sh [seconds] [page-size] [payload-bytes]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh
source scripts/measure/lib/hot_room.sh
source scripts/measure/lib/measure.sh
micq_ensure_packages wrk redis-server linux-perf
seconds=${1:-5}; size=${2:-2}; payload=${3:-1024}
source scripts/measure/lib/scratch.sh
bench_backends 18679 18690 18681 "$payload"
build/micq serve --threads 1 --redis 127.0.0.1:18679 --aggregator http://127.0.0.1:18681 --events-token t \
  --ttl-ms 3600000 --listen 127.0.0.1:18680 ${PROFILE_FLAGS:-} >/dev/null 2>&1 &
bench_wait_http http://127.0.0.1:18680/healthz
bench_seed_hot_room 18680
target="http://127.0.0.1:18680/v1/rooms/hot/mic-queue?size=$size"
echo "body: $(curl -sf "$target" | wc -c) bytes"
wrk -t1 -c64 -d1s "$target" >/dev/null  # warm
pid=$(bench_pid_on 18680)
perf record -q -e cpu-clock -g -p "$pid" -o "$work/perf.data" -- sleep "$seconds" 2>/dev/null &
perf_pid=$!
read -r rps _ < <(bench_round "$seconds" "$target")
wait "$perf_pid" || true
echo "wrk: $rps req/s"
perf report -i "$work/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | cut -c1-110 | grep -E '^ +[0-9]' | head -8
echo "top symbols:"
perf report -i "$work/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null | cut -c1-110 | grep -E '^ +[0-9]' | head -25
