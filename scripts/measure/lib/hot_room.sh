# Shared by the hit-path scripts in scripts/measure/ (sourced, not run): one hot
# room's page served by micq, and nginx serving the same bytes. Each
# script keeps its own ports so they can run side by side. Expects $work
# (a scratch directory the caller removes) and the micq repository as the
# working directory.

# redis-server on 127.0.0.1:$1, sim on $2 (records of $4 bytes, default
# 1024) and an aggregator on $3 over it, one worker thread each, in the
# background of the calling shell.
bench_backends() {
  local redis=$1 sim=$2 aggregator=$3 payload=${4:-1024}
  redis-server --port "$redis" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null &
  build/micq sim --threads 1 --listen "127.0.0.1:$sim" --payload-bytes "$payload" >/dev/null 2>&1 &
  build/micq aggregator --threads 1 --downstream "http://127.0.0.1:$sim" --listen "127.0.0.1:$aggregator" \
    >/dev/null 2>&1 &
}

# 30 users gifting into room "hot" through the serve on 127.0.0.1:$1.
bench_seed_hot_room() {
  local events='{"events":['
  for i in $(seq 1 30); do events+="{\"type\":\"gift\",\"uid\":\"u$i\",\"value\":$((i * 10))},"; done
  curl -sf -H 'Authorization: Bearer t' -d "${events%,}]}" "http://127.0.0.1:$1/v1/rooms/hot/events" >/dev/null
}

# nginx (one worker, sendfile on) on 127.0.0.1:$1 serving $work/www, where
# $work/www/v1/rooms/hot/mic-queue is the page's body as served by the
# serve on 127.0.0.1:$2 at target $3.
bench_nginx_serving() {
  local port=$1 serve=$2 target=$3
  mkdir -p "$work/www/v1/rooms/hot"
  curl -sf "http://127.0.0.1:$serve$target" > "$work/www/v1/rooms/hot/mic-queue"
  cat > "$work/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $work/nginx.pid; error_log $work/error.log;
events { worker_connections 4096; }
http { access_log off; default_type application/json; sendfile on; tcp_nopush on;
  server { listen 127.0.0.1:$port; location / { root $work/www; } } }
CONF
  chmod -R a+rX "$work"  # nginx workers run as www-data
  nginx -c "$work/nginx.conf" 2>"$work/nginx.stderr" &
  sleep 0.5
}

# A hot room is never quiet: ~100 events/s (10 every 100 ms: enters, exits,
# chat and gifts among 200 viewers) posted to room "hot" through the serve
# on 127.0.0.1:$1, in the background of the calling shell until it ends.
bench_room_events() {
  local port=$1
  (
    local tick=0 events i uid
    while :; do
      events='{"events":['
      for i in 0 1 2 3 4 5 6 7 8 9; do
        uid="v$(((tick * 7 + i * 13) % 200))"
        case $i in
          0 | 1 | 2) events+="{\"type\":\"enter\",\"uid\":\"$uid\"}," ;;
          3 | 4) events+="{\"type\":\"exit\",\"uid\":\"v$(((tick * 11 + i) % 200))\"}," ;;
          5 | 6 | 7) events+="{\"type\":\"chat\",\"uid\":\"$uid\"}," ;;
          *) events+="{\"type\":\"gift\",\"uid\":\"u$((tick % 30 + 1))\",\"value\":$((tick % 50 + 1))}," ;;
        esac
      done
      curl -sf -H 'Authorization: Bearer t' -d "${events%,}]}" "http://127.0.0.1:$port/v1/rooms/hot/events" \
        >/dev/null || true
      tick=$((tick + 1))
      sleep 0.1
    done
  ) &
}
