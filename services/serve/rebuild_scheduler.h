// RebuildScheduler: turns room events into background page rebuilds
// (SPEC §5: room events never make a caller wait). It knows which pages of
// each room are cached; an event marks them out of date and each starts a
// rebuild within `interval` of it: at most one rebuild per page per
// interval however many events arrive, and events that arrive during a
// rebuild bring one more after it. Callers meanwhile keep the page they had
// (the rebuild replaces it in the cache when done).
//
// Bounded: at most `max_pages` pages are tracked; past that, pages no
// longer cached are forgotten first, then the least recently loaded (a
// forgotten page is still rebuilt by its TTL).
//
// Thread safety: every member may be called from any thread. Each page's
// rebuilds run one at a time on a strand of their own.
#ifndef MICQ_SERVE_REBUILD_SCHEDULER_H_
#define MICQ_SERVE_REBUILD_SCHEDULER_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "page.h"

namespace micq::serve {

struct RebuildStats {
  std::uint64_t rebuilds_started = 0;
  std::uint64_t events_coalesced = 0;  // page marks that found a rebuild already coming
  std::size_t pages_tracked = 0;
};

class RebuildScheduler {
 public:
  // Rebuilds one page; false when the page is no longer cached (it is then
  // forgotten). Must not throw.
  using Rebuild = std::function<boost::asio::awaitable<bool>(PageKey)>;
  // Whether a page is still cached (for forgetting pages when full).
  using StillCached = std::function<bool(const PageKey&)>;

  RebuildScheduler(boost::asio::any_io_executor executor, std::chrono::milliseconds interval,
                   std::size_t max_pages, Rebuild rebuild, StillCached still_cached);
  ~RebuildScheduler();
  RebuildScheduler(const RebuildScheduler&) = delete;
  RebuildScheduler& operator=(const RebuildScheduler&) = delete;

  // A page of the room was loaded into the cache: events now rebuild it.
  void page_cached(const PageKey& key);

  // An event was applied to `room`: rebuild its cached pages.
  void room_changed(std::string_view room);

  RebuildStats stats() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace micq::serve

#endif  // MICQ_SERVE_REBUILD_SCHEDULER_H_
