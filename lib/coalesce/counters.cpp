#include "micq/coalesce/internal/counters.h"

namespace micq::coalesce::internal {

std::size_t this_thread_stripe() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t stripe = next.fetch_add(1, std::memory_order_relaxed) % kStripes;
  return stripe;
}

}  // namespace micq::coalesce::internal
