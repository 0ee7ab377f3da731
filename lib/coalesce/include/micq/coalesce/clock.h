// Clock: the time source of a coalesce::Cache, injectable so that every
// timing rule (TTL, stale window, back-off, early refresh) can be tested
// deterministically.
//
// Example:
//   auto clock = std::make_shared<micq::coalesce::ManualClock>();
//   CacheOptions options;
//   options.clock = clock;
//   ...
//   clock->advance(std::chrono::milliseconds(1500));  // now past the TTL
//
// Thread safety: now() may be called from any thread concurrently.
// ManualClock::advance()/set() may race with now(); readers see either the
// old or the new time.
#ifndef MICQ_COALESCE_CLOCK_H_
#define MICQ_COALESCE_CLOCK_H_

#include <atomic>
#include <chrono>
#include <memory>

namespace micq::coalesce {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

// The real monotonic clock. One shared instance is enough.
class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  static std::shared_ptr<const Clock> instance();
};

// A clock that moves only when told to. Starts at an arbitrary non-zero
// epoch so that "time_point{}" never looks like a real reading.
class ManualClock final : public Clock {
 public:
  ManualClock() : ns_(1'000'000'000'000LL) {}
  TimePoint now() const override { return TimePoint(Duration(ns_.load(std::memory_order_acquire))); }
  void advance(Duration by) { ns_.fetch_add(by.count(), std::memory_order_acq_rel); }
  void set(TimePoint to) { ns_.store(to.time_since_epoch().count(), std::memory_order_release); }

 private:
  std::atomic<Duration::rep> ns_;
};

}  // namespace micq::coalesce

#endif  // MICQ_COALESCE_CLOCK_H_
