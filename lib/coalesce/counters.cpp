#include "micq/coalesce/internal/counters.h"

#include <bit>

namespace micq::coalesce::internal {
namespace {

static_assert(kStripes <= 32, "stripes are tracked in a 32-bit mask");
std::atomic<std::uint32_t> stripes_in_use{0};
std::atomic<std::size_t> overflow_next{0};

// Holds a stripe for the life of its thread and gives it back at exit, so
// that short-lived threads do not push live ones onto shared stripes.
struct StripeClaim {
  std::size_t index;
  bool owned = false;

  StripeClaim() {
    std::uint32_t used = stripes_in_use.load(std::memory_order_relaxed);
    for (;;) {
      std::uint32_t free = ~used & ((kStripes == 32) ? ~0u : ((1u << kStripes) - 1));
      if (free == 0) {  // more live threads than stripes: share
        index = overflow_next.fetch_add(1, std::memory_order_relaxed) % kStripes;
        return;
      }
      std::size_t bit = static_cast<std::size_t>(std::countr_zero(free));
      if (stripes_in_use.compare_exchange_weak(used, used | (1u << bit), std::memory_order_acq_rel)) {
        index = bit;
        owned = true;
        return;
      }
    }
  }
  ~StripeClaim() {
    if (owned) stripes_in_use.fetch_and(~(1u << index), std::memory_order_acq_rel);
  }
};

}  // namespace

std::size_t this_thread_stripe() {
  thread_local const StripeClaim claim;
  return claim.index;
}

}  // namespace micq::coalesce::internal
