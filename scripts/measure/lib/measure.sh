# Shared by the scripts in scripts/measure/ that set one server against another (sourced,
# not run): a wrk round at a port, with the CPU the named processes spent
# over it. Expects $work (a scratch directory the caller removes).

# The pid of whatever listens on loopback port $1.
bench_pid_on() { ss -ltnpH "sport = :$1" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2; }

# utime + stime of every thread of pid $1, in clock ticks.
bench_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# bench_round SECONDS URL [PID...] [-- WRK-ARGS...]: wrk -t1 -c64 against URL
# for SECONDS; prints "requests/s requests ticks..." with the CPU clock
# ticks each PID spent over the round, in the order given. Non-2xx answers
# and socket errors go to stderr: a round with them is not a measure of
# the hit path.
bench_round() {
  local seconds=$1 url=$2 pids=() extra=() pid before=() ticks=() i
  shift 2
  while (($#)); do
    [ "$1" = -- ] && { shift; extra=("$@"); break; }
    pids+=("$1"); shift
  done
  for pid in "${pids[@]}"; do before+=("$(bench_ticks "$pid")"); done
  wrk -t1 -c64 -d"${seconds}s" "${extra[@]}" "$url" > "$work/wrk.txt"
  for i in "${!pids[@]}"; do ticks+=("$(($(bench_ticks "${pids[$i]}") - before[i]))"); done
  grep -hE "Non-2xx|Socket errors" "$work/wrk.txt" >&2 || true
  echo "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt") $(awk '/requests in/ {print $1}' "$work/wrk.txt") ${ticks[*]}"
}

# bench_per_cpu_second REQUESTS TICKS...: requests per CPU-second spent by
# the processes whose ticks are given.
bench_per_cpu_second() {
  local requests=$1 sum=0 t
  shift
  for t in "$@"; do sum=$((sum + t)); done
  awk -v n="$requests" -v t="$sum" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.0f", t ? n / (t / hz) : 0}'
}

# bench_ratio A B: A / B to two places.
bench_ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b ? a / b : 0}'; }

# bench_wait_http URL: waits (up to 10 s) until URL answers 200.
bench_wait_http() {
  for _ in $(seq 1 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "no answer from $1" >&2; return 1
}

# bench_median VALUE...: the median of the values given.
bench_median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
