#!/usr/bin/env bash
# The cached hit path, one worker thread each, 64 connections, rounds
# alternating in one run: this build's micq serve, another build's (the
# "before", e.g. a worktree of an older commit) and nginx serving the very
# same body as a static file. Reports requests/s and each server's CPU per
# request (utime + stime from /proc over the round; nginx's worker). At
# large bodies the one wrk thread's receive copy bounds requests/s, so the
# CPU per request is the server's own measure. THIS_FLAGS and
# OTHER_FLAGS add serve flags to each (e.g. OTHER_FLAGS="--sendfile-min-bytes 0"
# with OTHER_MICQ=build/micq compares sendfile with sends from memory).
# Not part of CI.
# Usage: scripts/measure/hit_path.sh [OTHER_MICQ, default build/micq] [seconds-per-round] [rounds] [page-size] [payload-bytes]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh
source scripts/measure/lib/hot_room.sh
source scripts/measure/lib/measure.sh
micq_ensure_packages wrk nginx-light redis-server
other=${1:-build/micq}
seconds=${2:-5}; rounds=${3:-3}; size=${4:-10}; payload=${5:-1024}
source scripts/measure/lib/scratch.sh
bench_backends 18379 18390 18381 "$payload"
for pair in "build/micq 18380 ${THIS_FLAGS:-}" "$other 18386 ${OTHER_FLAGS:-}"; do
  set -- $pair
  micq=$1 port=$2; shift 2
  "$micq" serve --threads 1 --redis 127.0.0.1:18379 --aggregator http://127.0.0.1:18381 --events-token t \
    --ttl-ms 3600000 --listen "127.0.0.1:$port" "$@" >/dev/null 2>&1 &
done
sleep 1
bench_seed_hot_room 18380
target="/v1/rooms/hot/mic-queue?size=$size"
curl -sf "http://127.0.0.1:18386$target" > /dev/null
bench_nginx_serving 18385 18380 "$target"
echo "body: $(wc -c < "$work/www/v1/rooms/hot/mic-queue") bytes"
new_pid=$(bench_pid_on 18380); old_pid=$(bench_pid_on 18386); nginx_pid=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)
# One round at a port for the server with that pid: "req/s CPU-us-per-request".
measure() {
  local rps total ticks
  read -r rps total ticks < <(bench_round "$seconds" "http://127.0.0.1:$1$target" "$2")
  echo "$rps $(awk -v t="$ticks" -v n="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')"
}
for ((r = 1; r <= rounds; r++)); do
  read -r n nc < <(measure 18385 "$nginx_pid")
  read -r m mc < <(measure 18380 "$new_pid")
  read -r o oc < <(measure 18386 "$old_pid")
  echo "round $r: nginx $n req/s, ${nc} us CPU/req | this build $m req/s, ${mc} us CPU/req | other build $o req/s, ${oc} us CPU/req |" \
    "this/nginx $(bench_ratio "$m" "$n"), CPU/req nginx/this $(bench_ratio "$nc" "$mc")," \
    "this/other req/s $(bench_ratio "$m" "$o"), CPU/req this/other $(bench_ratio "$mc" "$oc")"
done
