#!/usr/bin/env bash
# Serve under a flood of cold keys (issue 13, F4): ROOMS rooms of 10 users
# each, no two rooms sharing a user, each polled once a second (open loop,
# micq bench), against a slow sim; once with serve's default admission
# bounds and once without (the limits raised out of reach), one after the
# other on the same stack. Prints for each: answers by status, latency,
# aggregator batches/s, the aggregator's downstream calls by outcome,
# serve's peak RSS, and the first answer after the load. Not part of CI.
# Usage: scripts/measure/overload.sh [rooms] [sim-latency-ms] [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh
micq_ensure_packages redis-server curl python3
rooms=${1:-3000}; latency=${2:-300}; seconds=${3:-20}
source scripts/measure/lib/scratch.sh
redis-server --port 18579 --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null &
build/micq sim --latency-ms "$latency" --jitter-ms 0 --listen 127.0.0.1:18590 >/dev/null 2>&1 &
build/micq aggregator --timeout-ms 1000 --downstream http://127.0.0.1:18590 --listen 127.0.0.1:18581 \
  >/dev/null 2>&1 &
sleep 1

# bench's room names; ten users of each room's own
seed() {
  python3 - "$rooms" <<'EOF'
import http.client, json, sys
rooms = int(sys.argv[1])
connection = http.client.HTTPConnection("127.0.0.1", 18580)
for n, room in enumerate(["bench-hot"] + [f"bench-small-{i}" for i in range(rooms)]):
    events = []
    for k in range(10):
        events += [{"type": "enter", "uid": f"{n}x{k}"}, {"type": "gift", "uid": f"{n}x{k}", "value": k + 1}]
    connection.request("POST", f"/v1/rooms/{room}/events", json.dumps({"events": events}),
                       {"Authorization": "Bearer t"})
    answer = connection.getresponse()
    answer.read()
    assert answer.status == 200, answer.status
EOF
}

outcomes() {
  curl -s http://127.0.0.1:18581/metrics | awk '/^micq_aggregator_downstream_calls_total/ {
    split($1, a, "outcome=\""); split(a[2], b, "\""); n[b[1]] += $2 }
    END { for (k in n) printf "%s %d  ", k, n[k] }'
}

for config in "bounded:" "unbounded:--max-builds 100000 --max-batches 100000"; do
  name=${config%%:*}
  # shellcheck disable=SC2086
  build/micq serve --threads 1 ${config#*:} --redis 127.0.0.1:18579 --aggregator http://127.0.0.1:18581 \
    --events-token t --listen 127.0.0.1:18580 >/dev/null 2>&1 &
  serve=$!
  sleep 0.5
  redis-cli -p 18579 flushall >/dev/null
  seed
  before=$(outcomes)
  build/micq bench --serve http://127.0.0.1:18580 --aggregator http://127.0.0.1:18581 --redis 127.0.0.1:18579 \
    --events none --hot-viewers 1 --rooms "$rooms" --room-viewers 1 --poll-seconds 1 \
    --duration-s "$seconds" --warmup-s 2 --out-dir "$work/$name" >"$work/$name.txt" 2>&1 || true
  echo "== $name (${config#*:})"
  grep -E "errors|latency p|aggregator batches per s|CPU ms per 1,000 requests: serve" "$work/$name.txt" |
    grep -v "/ $seconds s" || true
  curl -s http://127.0.0.1:18580/metrics | grep -E '^micq_http_requests_total\{route="mic_queue"|^micq_admission_rejected'
  echo "aggregator downstream calls, before: $before"
  echo "                             after:  $(outcomes)"
  echo "serve peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$serve/status")"
  echo "after the load: $(curl -s -o /dev/null -w '%{http_code} in %{time_total} s' \
    http://127.0.0.1:18580/v1/rooms/bench-small-1/mic-queue), readyz $(curl -s http://127.0.0.1:18580/readyz)"
  kill $serve
  wait $serve 2>/dev/null || true
done
