// Internal to micq::coalesce: what a Cache keeps per key. Not part of the
// public API.
//
// An entry lives in one shard's map (internal/cache_state.h) and is shared
// (std::shared_ptr) with the per-thread hit views that served it
// (internal/hit_view.h), which keep it readable after it leaves the map.
// `version` is the contract between the two: it is bumped whenever `value`
// is replaced or the entry leaves the map, so a view that recorded the
// entry at version n may serve what it recorded only while it still reads n.
#ifndef MICQ_COALESCE_INTERNAL_CACHE_ENTRY_H_
#define MICQ_COALESCE_INTERNAL_CACHE_ENTRY_H_

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>

#include "micq/coalesce/clock.h"
#include "micq/coalesce/result.h"

namespace micq::coalesce::internal {

// Cache-line aligned: every hit on the key reads `version`, and nothing
// another thread writes may share its line.
template <class V>
struct alignas(64) CacheEntry {
  // Written under the shard's exclusive lock, read under its shared lock.
  std::shared_ptr<const V> value;  // null until a load succeeds
  TimePoint built_at{};            // when the load of `value` started
  TimePoint fresh_until{};         // built_at + jittered ttl
  TimePoint refresh_at{};          // fresh_until - the refresh-ahead window
  TimePoint stale_until{};         // fresh_until + max_stale
  Duration load_time{};            // XFetch delta and window base: the slowest recent load (or lead)
  TimePoint load_time_at{};        // when load_time was measured
  std::exception_ptr last_error;   // the last failure, while backing off: what it threw
  ErrorValue last_error_value;     // ... or the error it returned
  TimePoint retry_after{};         // no new load before this
  std::uint64_t generation = 0;    // unique per entry; a load stores only into its own
  bool loading = false;
  // Bumped under the exclusive lock whenever `value` is replaced or the
  // entry leaves the map; per-thread views compare it on every hit.
  std::atomic<std::uint64_t> version{0};
  // Written under the shared lock, hence atomic.
  std::atomic<Duration::rep> last_used{0};
  std::atomic<bool> refresh_claimed{false};

  void touch(TimePoint now) {
    // Skip the store when it would barely change the value, so that a hot
    // key read on every core does not bounce its cache line for this.
    Duration::rep t = now.time_since_epoch().count();
    if (t - last_used.load(std::memory_order_relaxed) > 1'000'000) {
      last_used.store(t, std::memory_order_relaxed);
    }
  }
};

}  // namespace micq::coalesce::internal

#endif  // MICQ_COALESCE_INTERNAL_CACHE_ENTRY_H_
