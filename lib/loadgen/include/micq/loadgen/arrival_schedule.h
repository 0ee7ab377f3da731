// ArrivalSchedule: when an open-loop client sends its requests. The times
// are fixed in advance by the rate alone — not by when answers come back —
// so a slow server cannot slow the load down, and latency measured from the
// scheduled time includes any queueing the server caused (no coordinated
// omission).
//
// Example:
//   ArrivalSchedule viewers(ArrivalSchedule::Kind::kPoisson, 3333.3, start, seed);
//   auto when = viewers.next();  // then next(), next(), ...
//
// Thread safety: none; one schedule per sending coroutine.
#ifndef MICQ_LOADGEN_ARRIVAL_SCHEDULE_H_
#define MICQ_LOADGEN_ARRIVAL_SCHEDULE_H_

#include <chrono>
#include <cstdint>
#include <random>

namespace micq::loadgen {

class ArrivalSchedule {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Kind {
    kEven,     // exactly 1/rate apart (a room's polls spread evenly)
    kPoisson,  // exponential gaps with mean 1/rate (independent viewers)
  };

  // REQUIRES: rate_per_second > 0.
  ArrivalSchedule(Kind kind, double rate_per_second, Clock::time_point start, std::uint64_t seed = 1);

  // The next send time; the first is `start` itself.
  Clock::time_point next();

 private:
  Kind kind_;
  double mean_gap_ns_;
  Clock::time_point start_;
  std::uint64_t sent_ = 0;
  double poisson_offset_ns_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace micq::loadgen

#endif  // MICQ_LOADGEN_ARRIVAL_SCHEDULE_H_
