#!/usr/bin/env bash
# A cached mic-queue hit (micq serve, one worker thread) vs nginx (one
# worker) serving the very same body as a static file, 64 connections,
# alternating rounds in one run. Not part of CI.
# Usage: bench/serve_vs_nginx.sh [seconds-per-round] [rounds] [page-size]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
micq_ensure_packages wrk nginx-light redis-server
seconds=${1:-5}; rounds=${2:-3}; size=${3:-10}
work=$(mktemp -d)
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
redis-server --port 18379 --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null &
build/micq sim --threads 1 --listen 127.0.0.1:18390 >/dev/null 2>&1 &
build/micq aggregator --threads 1 --downstream http://127.0.0.1:18390 --listen 127.0.0.1:18381 >/dev/null 2>&1 &
build/micq serve --threads 1 --redis 127.0.0.1:18379 --aggregator http://127.0.0.1:18381 --events-token t \
  --listen 127.0.0.1:18380 >/dev/null 2>&1 &
sleep 1
events='{"events":['
for i in $(seq 1 30); do events+="{\"type\":\"gift\",\"uid\":\"u$i\",\"value\":$((i * 10))},"; done
curl -sf -H 'Authorization: Bearer t' -d "${events%,}]}" http://127.0.0.1:18380/v1/rooms/hot/events >/dev/null
target="/v1/rooms/hot/mic-queue?size=$size"
mkdir -p "$work/www/v1/rooms/hot"
curl -sf "http://127.0.0.1:18380$target" > "$work/www/v1/rooms/hot/mic-queue"
echo "body: $(wc -c < "$work/www/v1/rooms/hot/mic-queue") bytes"
cat > "$work/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $work/nginx.pid; error_log $work/error.log;
events { worker_connections 4096; }
http { access_log off; default_type application/json;
  server { listen 127.0.0.1:18385; location / { root $work/www; } } }
CONF
chmod -R a+rX "$work"  # nginx workers run as www-data
nginx -c "$work/nginx.conf" 2>"$work/nginx.stderr" &
sleep 0.5
# Both must answer 200 with the same bytes, or the comparison means nothing.
for url in "http://127.0.0.1:18385/v1/rooms/hot/mic-queue" "http://127.0.0.1:18380$target"; do
  got=$(curl -s -o /dev/null -w "%{http_code} %{size_download}" "$url")
  echo "check $url: $got"
  [ "${got%% *}" = 200 ] || { cat "$work/nginx.stderr" "$work/error.log" 2>/dev/null; exit 1; }
done
for ((r = 1; r <= rounds; r++)); do
  n=$(wrk -t1 -c64 -d"${seconds}s" "http://127.0.0.1:18385/v1/rooms/hot/mic-queue" | tee "$work/n.txt" | awk '/Requests\/sec/ {print $2}')
  m=$(wrk -t1 -c64 -d"${seconds}s" "http://127.0.0.1:18380$target" | tee "$work/m.txt" | awk '/Requests\/sec/ {print $2}')
  if grep -qE "Non-2xx|Socket errors" "$work/n.txt" "$work/m.txt"; then grep -hE "Non-2xx|Socket errors" "$work/n.txt" "$work/m.txt"; fi
  echo "round $r: nginx $n req/s, micq serve (cached) $m req/s, ratio $(awk -v a="$m" -v b="$n" 'BEGIN {printf "%.2f", a/b}')"
done
curl -s http://127.0.0.1:18380/metrics | grep -E "^micq_(cache_hits|page_loads_started|callers_coalesced)_total"
