// One open-loop run: GET `target` on an ArrivalSchedule for `duration`,
// never waiting for an answer before sending the next request, and record
// each latency from the request's *scheduled* send time.
#ifndef MICQ_BENCH_OPEN_LOOP_H_
#define MICQ_BENCH_OPEN_LOOP_H_

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "micq/http/client.h"
#include "micq/http/router.h"
#include "micq/loadgen/arrival_schedule.h"
#include "micq/loadgen/latency_histogram.h"

namespace micq::bench {

struct OpenLoopPlan {
  std::string target;  // path and query, e.g. /v1/rooms/r1/mic-queue
  double rate_per_second = 100;
  loadgen::ArrivalSchedule::Kind arrivals = loadgen::ArrivalSchedule::Kind::kPoisson;
  std::chrono::milliseconds duration{5000};
  std::chrono::milliseconds request_timeout{5000};
  std::uint64_t seed = 1;
};

struct OpenLoopResult {
  loadgen::LatencyHistogram latency;  // successful (2xx/304) requests, from scheduled time
  std::uint64_t scheduled = 0;
  std::uint64_t ok = 0;
  std::uint64_t errors = 0;  // transport errors, timeouts, non-2xx/304
  std::chrono::nanoseconds elapsed{0};
};

// Runs the plan on the calling coroutine's executor (one thread is enough:
// nothing blocks). Completes when every sent request has finished.
boost::asio::awaitable<OpenLoopResult> run_open_loop(http::ClientPool& pool, OpenLoopPlan plan);

}  // namespace micq::bench

#endif  // MICQ_BENCH_OPEN_LOOP_H_
