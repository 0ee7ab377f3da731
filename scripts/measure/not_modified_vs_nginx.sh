#!/usr/bin/env bash
# 304 answers: micq serve (cached, one worker) against nginx (one worker)
# serving the same body as a static file, each asked with its own current
# ETag in If-None-Match, 64 connections, alternating rounds. Not part of CI.
# Usage: scripts/measure/not_modified_vs_nginx.sh [seconds-per-round] [rounds] [page-size]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh
source scripts/measure/lib/hot_room.sh
micq_ensure_packages wrk nginx-light redis-server
seconds=${1:-4}; rounds=${2:-3}; size=${3:-2}
source scripts/measure/lib/scratch.sh
bench_backends 18779 18790 18781
build/micq serve --threads 1 --redis 127.0.0.1:18779 --aggregator http://127.0.0.1:18781 --events-token t \
  --ttl-ms 3600000 --listen 127.0.0.1:18780 >/dev/null 2>&1 &
sleep 1
bench_seed_hot_room 18780
target="/v1/rooms/hot/mic-queue?size=$size"
bench_nginx_serving 18785 18780 "$target"
etag_of() { curl -s -D - -o /dev/null "$1" | awk -F': ' 'tolower($1) == "etag" {print $2}' | tr -d '\r'; }
micq_etag=$(etag_of "http://127.0.0.1:18780$target")
nginx_etag=$(etag_of "http://127.0.0.1:18785/v1/rooms/hot/mic-queue")
for pair in "18780$target $micq_etag" "18785/v1/rooms/hot/mic-queue $nginx_etag"; do
  set -- $pair
  code=$(curl -s -o /dev/null -w "%{http_code}" -H "If-None-Match: $2" "http://127.0.0.1:$1")
  [ "$code" = 304 ] || { echo "expected 304 from 127.0.0.1:$1, got $code" >&2; exit 1; }
done
echo "body: $(wc -c < "$work/www/v1/rooms/hot/mic-queue") bytes; both answer 304 to their ETag"
for ((r = 1; r <= rounds; r++)); do
  n=$(wrk -t1 -c64 -d"${seconds}s" -H "If-None-Match: $nginx_etag" "http://127.0.0.1:18785/v1/rooms/hot/mic-queue" | awk '/Requests\/sec/ {print $2}')
  m=$(wrk -t1 -c64 -d"${seconds}s" -H "If-None-Match: $micq_etag" "http://127.0.0.1:18780$target" | awk '/Requests\/sec/ {print $2}')
  echo "round $r: nginx 304 $n req/s, micq serve 304 $m req/s, ratio $(awk -v a="$m" -v b="$n" 'BEGIN {printf "%.2f", a / b}')"
done
