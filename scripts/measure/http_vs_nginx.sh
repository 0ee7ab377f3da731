#!/usr/bin/env bash
# /healthz on one micq worker thread vs nginx (one worker) serving a static
# file with the same body, alternating rounds in one run. Not part of CI.
# Usage: scripts/measure/http_vs_nginx.sh [seconds-per-round] [rounds]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh
micq_ensure_packages wrk nginx-light
seconds=${1:-5}; rounds=${2:-3}
source scripts/measure/lib/scratch.sh
mkdir -p "$work/www"; printf '{"status":"ok"}' > "$work/www/healthz"
cat > "$work/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $work/nginx.pid; error_log $work/error.log;
events { worker_connections 4096; }
http { access_log off; default_type application/json;
  server { listen 127.0.0.1:18195; location / { root $work/www; } } }
CONF
chmod -R a+rX "$work"  # nginx workers run as www-data
nginx -c "$work/nginx.conf" & build/micq sim --threads 1 --kinds 1 --listen 127.0.0.1:18196 >/dev/null 2>&1 &
sleep 1
for ((r = 1; r <= rounds; r++)); do
  n=$(wrk -t1 -c64 -d"${seconds}s" http://127.0.0.1:18195/healthz | awk '/Requests\/sec/ {print $2}')
  m=$(wrk -t1 -c64 -d"${seconds}s" http://127.0.0.1:18196/healthz | awk '/Requests\/sec/ {print $2}')
  echo "round $r: nginx $n req/s, micq $m req/s, ratio $(awk -v a="$m" -v b="$n" 'BEGIN {printf "%.2f", a/b}')"
done
