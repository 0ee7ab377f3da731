#include "micq/loadgen/arrival_schedule.h"

namespace micq::loadgen {

ArrivalSchedule::ArrivalSchedule(Kind kind, double rate_per_second, Clock::time_point start,
                                 std::uint64_t seed)
    : kind_(kind), mean_gap_ns_(1e9 / rate_per_second), start_(start), rng_(seed) {}

ArrivalSchedule::Clock::time_point ArrivalSchedule::next() {
  double offset_ns;
  if (kind_ == Kind::kEven) {
    // From the start each time, so rounding never accumulates.
    offset_ns = static_cast<double>(sent_) * mean_gap_ns_;
  } else {
    offset_ns = poisson_offset_ns_;
    poisson_offset_ns_ += std::exponential_distribution<double>(1.0 / mean_gap_ns_)(rng_);
  }
  ++sent_;
  return start_ + std::chrono::nanoseconds(static_cast<std::int64_t>(offset_ns));
}

}  // namespace micq::loadgen
