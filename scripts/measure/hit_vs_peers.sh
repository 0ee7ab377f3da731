#!/usr/bin/env bash
# Requests per CPU-second of the tier that answers the polls, one worker
# each, 64 connections, one hot room, rounds alternating in one run:
#   micq      micq serve --strategy cached (defaults: 1 s TTL, live room)
#   go peer   scripts/measure/go_peer: x/sync singleflight + TTL map of serialized
#             pages + json-iterator, GOMAXPROCS=1, loading from a
#             micq serve --strategy direct (the write-up's design)
#   nginx mc  nginx micro-cache (proxy_cache 1 s, lock, background update,
#             stale while updating) in front of micq serve --strategy direct
# "front" counts the CPU of the answering process alone (micq serve, the
# Go peer, nginx); "tier" adds what stands behind it and works for it over
# the round (the direct serve, the aggregator and sim). With EVENTS=1 (the
# default) the room gets ~100 events/s all along, as a hot room does.
# Installs Go, nginx and wrk from Debian. Not part of CI.
# Usage: scripts/measure/hit_vs_peers.sh [seconds-per-round] [rounds] [page-size] [payload-bytes]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh
source scripts/measure/lib/hot_room.sh
source scripts/measure/lib/measure.sh
micq_ensure_packages wrk nginx-light redis-server golang-go golang-golang-x-sync-dev \
  golang-github-json-iterator-go-dev
seconds=${1:-5}; rounds=${2:-3}; size=${3:-2}; payload=${4:-1024}
source scripts/measure/lib/scratch.sh
(cd scripts/measure/go_peer && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$work/gocache" go build -o "$work/go_peer" .)

redis=18979 sim=18990 aggregator=18981 cached=18980 direct=18982 writer=18983 go_peer=18984 nginx=18985
bench_backends $redis $sim $aggregator "$payload"
serve() {  # serve PORT FLAGS...: a micq serve over this run's Redis and aggregator
  local port=$1; shift
  build/micq serve --threads 1 --redis 127.0.0.1:$redis --aggregator http://127.0.0.1:$aggregator \
    --events-token t --listen "127.0.0.1:$port" "$@" >"$work/serve.$port.log" 2>&1 &
}
serve $cached
serve $direct --strategy direct
serve $writer --strategy direct  # takes the room's events, so no measured process does
GOMAXPROCS=1 "$work/go_peer" -listen 127.0.0.1:$go_peer -upstream http://127.0.0.1:$direct -ttl 1s \
  2>"$work/go_peer.log" &
mkdir -p "$work/cache"
cat > "$work/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $work/nginx.pid; error_log $work/error.log;
events { worker_connections 4096; }
http {
  access_log off; sendfile on; tcp_nopush on;
  proxy_cache_path $work/cache levels=1 keys_zone=micro:10m max_size=256m inactive=60s use_temp_path=off;
  upstream direct { server 127.0.0.1:$direct; keepalive 16; }
  server {
    listen 127.0.0.1:$nginx;
    location / {
      proxy_pass http://direct; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_cache micro; proxy_cache_key \$request_uri; proxy_cache_valid 200 1s;
      proxy_cache_lock on; proxy_cache_background_update on;
      proxy_cache_use_stale updating error timeout;
    }
  }
}
CONF
chmod -R a+rwX "$work"  # nginx workers run as www-data
nginx -c "$work/nginx.conf" 2>"$work/nginx.stderr" &
target="/v1/rooms/hot/mic-queue?size=$size"
for port in $cached $direct $writer; do bench_wait_http "http://127.0.0.1:$port/healthz"; done
bench_seed_hot_room $writer
for port in $cached $go_peer $nginx; do bench_wait_http "http://127.0.0.1:$port$target"; done
((${EVENTS:-1})) && bench_room_events $writer
for port in $cached $go_peer $nginx; do
  echo "127.0.0.1:$port: $(curl -sf "http://127.0.0.1:$port$target" | wc -c) bytes"
done
pid_cached=$(bench_pid_on $cached) pid_direct=$(bench_pid_on $direct) pid_go=$(bench_pid_on $go_peer)
pid_nginx=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)
behind=($(bench_pid_on $aggregator) $(bench_pid_on $sim))
go_front=() go_tier=() mc_front=() mc_tier=()
for ((r = 1; r <= rounds; r++)); do
  read -r m_rps m_n m_front m_agg m_sim < <(bench_round "$seconds" "http://127.0.0.1:$cached$target" \
    "$pid_cached" "${behind[@]}")
  read -r g_rps g_n g_front g_direct g_agg g_sim < <(bench_round "$seconds" "http://127.0.0.1:$go_peer$target" \
    "$pid_go" "$pid_direct" "${behind[@]}")
  read -r n_rps n_n n_front n_direct n_agg n_sim < <(bench_round "$seconds" "http://127.0.0.1:$nginx$target" \
    "$pid_nginx" "$pid_direct" "${behind[@]}")
  mf=$(bench_per_cpu_second "$m_n" "$m_front") mt=$(bench_per_cpu_second "$m_n" "$m_front" "$m_agg" "$m_sim")
  gf=$(bench_per_cpu_second "$g_n" "$g_front") gt=$(bench_per_cpu_second "$g_n" "$g_front" "$g_direct" "$g_agg" "$g_sim")
  nf=$(bench_per_cpu_second "$n_n" "$n_front") nt=$(bench_per_cpu_second "$n_n" "$n_front" "$n_direct" "$n_agg" "$n_sim")
  echo "round $r: req/s micq $m_rps, go peer $g_rps, nginx mc $n_rps |" \
    "req per CPU-s front: micq $mf, go $gf, nginx mc $nf; tier: micq $mt, go $gt, nginx mc $nt |" \
    "micq/go front $(bench_ratio "$mf" "$gf") tier $(bench_ratio "$mt" "$gt")," \
    "micq/nginx mc front $(bench_ratio "$mf" "$nf") tier $(bench_ratio "$mt" "$nt")"
  go_front+=("$(bench_ratio "$mf" "$gf")") go_tier+=("$(bench_ratio "$mt" "$gt")")
  mc_front+=("$(bench_ratio "$mf" "$nf")") mc_tier+=("$(bench_ratio "$mt" "$nt")")
done
echo "median of $rounds rounds, requests per CPU-second: micq/go peer front $(bench_median "${go_front[@]}")" \
  "tier $(bench_median "${go_tier[@]}"); micq/nginx micro-cache front $(bench_median "${mc_front[@]}")" \
  "tier $(bench_median "${mc_tier[@]}")"
