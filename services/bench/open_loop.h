// One open-loop run: GET the rooms' paths on an ArrivalSchedule for
// `duration`, never waiting for an answer before sending the next request,
// and record each latency from the request's *scheduled* send time.
#ifndef MICQ_BENCH_OPEN_LOOP_H_
#define MICQ_BENCH_OPEN_LOOP_H_

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "micq/http/client.h"
#include "micq/http/router.h"
#include "micq/loadgen/arrival_schedule.h"
#include "micq/loadgen/latency_histogram.h"
#include "room_mix.h"

namespace micq::bench {

struct OpenLoopPlan {
  const RoomMix* mix = nullptr;
  std::vector<std::string> targets;  // path and query per room of `mix`
  loadgen::ArrivalSchedule::Kind arrivals = loadgen::ArrivalSchedule::Kind::kPoisson;
  std::chrono::milliseconds duration{5000};
  std::chrono::milliseconds request_timeout{5000};
  std::uint64_t seed = 1;
  // The share of the mix's request rate this run sends (1/threads when the
  // load is spread over several threads).
  double rate_share = 1.0;
  // When the first request goes, in gaps of this run's mean interval
  // (thread t of N starts t/N of a gap late).
  double start_offset_gaps = 0;
  // Viewers keep the ETag of their last answer and send it as
  // If-None-Match, as the demo page and real clients do.
  bool conditional = false;
  // Called with each successful answer (2xx/304) and when it arrived.
  std::function<void(std::size_t room, http::ClientResponse& answer, std::chrono::steady_clock::time_point)>
      on_answer;
};

// Counters are atomic so another thread can watch a run (progress); the
// histogram and error kinds belong to the run's thread until it completes.
struct OpenLoopResult {
  loadgen::LatencyHistogram latency;  // successful (2xx/304) requests, from scheduled time
  std::atomic<std::uint64_t> scheduled{0};
  std::atomic<std::uint64_t> ok{0};
  std::atomic<std::uint64_t> not_modified{0};  // of ok: 304 answers
  std::atomic<std::uint64_t> errors{0};        // transport errors, timeouts, non-2xx/304
  // errors by kind ("HTTP 503", "timed out", ...); at most kMaxErrorKinds
  // kinds, the rest counted as "other".
  std::map<std::string, std::uint64_t> error_kinds;
  static constexpr std::size_t kMaxErrorKinds = 16;
  std::atomic<std::uint64_t> in_flight{0};
  std::chrono::nanoseconds elapsed{0};
};

// Runs the plan on the calling coroutine's executor (one thread is enough:
// nothing blocks), updating `result` as it goes (so it can be watched for
// progress). Completes when every sent request has finished.
boost::asio::awaitable<void> run_open_loop(http::ClientPool& pool, OpenLoopPlan plan, OpenLoopResult& result);

}  // namespace micq::bench

#endif  // MICQ_BENCH_OPEN_LOOP_H_
