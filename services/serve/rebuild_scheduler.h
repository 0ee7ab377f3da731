// RebuildScheduler: turns room events into background page rebuilds
// (SPEC §5: room events never make a caller wait). It knows which pages of
// each room are cached; an event marks them out of date and each starts a
// rebuild within `interval` of it: at most one rebuild per page per
// interval however many events arrive, and events that arrive during a
// rebuild bring one more after it. Callers meanwhile keep the page they had
// (the rebuild replaces it in the cache when done).
//
// Events come with the room's version when it is known (an applied request,
// a notification from another instance): a version already seen for the
// room changes nothing, so one event heard twice (its answer here, its
// notification from Redis) rebuilds once.
//
// Bounded: at most `max_pages` pages are tracked; past that, pages no
// longer cached are forgotten first, then the least recently loaded (a
// forgotten page is still rebuilt by its TTL). A room is tracked while any
// of its pages is, and `rooms_watch` hears when it starts and stops being
// (micq serve subscribes to the room's notifications meanwhile).
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
#include <optional>
#include <string>
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
  // A room started (true) or stopped (false) being tracked. Called with the
  // scheduler's lock held: it must not call back into the scheduler.
  using RoomsWatch = std::function<void(const std::string& room, bool tracked)>;

  RebuildScheduler(boost::asio::any_io_executor executor, std::chrono::milliseconds interval,
                   std::size_t max_pages, Rebuild rebuild, StillCached still_cached,
                   RoomsWatch rooms_watch = {});
  ~RebuildScheduler();
  RebuildScheduler(const RebuildScheduler&) = delete;
  RebuildScheduler& operator=(const RebuildScheduler&) = delete;

  // A page of the room was loaded into the cache (built from the room's
  // `version`, -1 if not known): events now rebuild it. Built from a version
  // older than one already heard of for the room, it is rebuilt now (the
  // event came while it was read, and marked the pages before it was here).
  void page_cached(const PageKey& key, std::int64_t version = -1);

  // An event was applied to `room` (now at `version`, if known): rebuild its
  // cached pages. False if nothing was done because the version was seen
  // already.
  bool room_changed(std::string_view room, std::optional<std::int64_t> version = std::nullopt);

  // Whether `version` is newer than any seen for `room` (true for a room
  // not tracked).
  bool is_new_version(std::string_view room, std::int64_t version) const;

  // The room is at `version` now (read when its notifications began): if
  // no event heard of brought it, its pages built from an older one missed
  // an event and are rebuilt.
  void room_caught_up(std::string_view room, std::int64_t version);

  RebuildStats stats() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace micq::serve

#endif  // MICQ_SERVE_REBUILD_SCHEDULER_H_
