#include "micq/coalesce/internal/hit_view.h"

namespace micq::coalesce::internal {

std::uint64_t next_instance_id() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace micq::coalesce::internal
