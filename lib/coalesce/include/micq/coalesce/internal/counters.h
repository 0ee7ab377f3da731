// Internal to micq::coalesce: statistics counters that many threads bump
// without sharing a cache line. Each thread writes its own stripe; a reader
// sums the stripes (a momentary, not atomic, snapshot).
#ifndef MICQ_COALESCE_INTERNAL_COUNTERS_H_
#define MICQ_COALESCE_INTERNAL_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace micq::coalesce::internal {

class Counter {
 public:
  void inc() { n_.fetch_add(1, std::memory_order_relaxed); }
  std::uint64_t get() const { return n_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> n_{0};
};

// The stripe this thread writes: each live thread holds its own stripe
// (released when the thread exits); only beyond kStripes live threads do
// threads share one.
std::size_t this_thread_stripe();

inline constexpr std::size_t kStripes = 16;

template <class T>
class Striped {
 public:
  T& local() { return stripes_[this_thread_stripe()].value; }
  template <class F>
  void for_each(F&& f) const {
    for (const auto& stripe : stripes_) f(stripe.value);
  }

 private:
  struct alignas(64) Stripe {
    T value;
  };
  std::array<Stripe, kStripes> stripes_;
};

}  // namespace micq::coalesce::internal

#endif  // MICQ_COALESCE_INTERNAL_COUNTERS_H_
