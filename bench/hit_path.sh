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
# Usage: bench/hit_path.sh [OTHER_MICQ, default build/micq] [seconds-per-round] [rounds] [page-size] [payload-bytes]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source bench/lib/hot_room.sh
source bench/lib/measure.sh
micq_ensure_packages wrk nginx-light redis-server
other=${1:-build/micq}
seconds=${2:-5}; rounds=${3:-3}; size=${4:-10}; payload=${5:-1024}
work=$(mktemp -d)
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
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
hz=$(getconf CLK_TCK)
new_pid=$(bench_pid_on 18380); old_pid=$(bench_pid_on 18386); nginx_pid=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)
# One round of wrk at a port: "req/s" and, for a serve pid, "CPU us per request".
measure() {
  local port=$1 pid=${2:-} before after
  [ -n "$pid" ] && before=$(bench_ticks "$pid")
  wrk -t1 -c64 -d"${seconds}s" "http://127.0.0.1:$port$target" > "$work/w.txt"
  grep -hE "Non-2xx|Socket errors" "$work/w.txt" >&2 || true
  local rps total
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/w.txt")
  total=$(awk '/requests in/ {print $1}' "$work/w.txt")
  if [ -n "$pid" ]; then
    after=$(bench_ticks "$pid")
    echo "$rps $(awk -v t=$((after - before)) -v n="$total" -v hz="$hz" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')"
  else
    echo "$rps -"
  fi
}
for ((r = 1; r <= rounds; r++)); do
  read -r n nc < <(measure 18385 "$nginx_pid")
  read -r m mc < <(measure 18380 "$new_pid")
  read -r o oc < <(measure 18386 "$old_pid")
  echo "round $r: nginx $n req/s, ${nc} us CPU/req | this build $m req/s, ${mc} us CPU/req | other build $o req/s, ${oc} us CPU/req |" \
    "this/nginx $(awk -v a="$m" -v b="$n" 'BEGIN {printf "%.2f", a/b}')," \
    "CPU/req nginx/this $(awk -v a="$nc" -v b="$mc" 'BEGIN {printf "%.2f", a/b}')," \
    "this/other req/s $(awk -v a="$m" -v b="$o" 'BEGIN {printf "%.2f", a/b}')," \
    "CPU/req this/other $(awk -v a="$mc" -v b="$oc" 'BEGIN {printf "%.2f", a/b}')"
done
