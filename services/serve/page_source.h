// PageSource: where the mic-queue handler gets a page, one implementation
// per --strategy, chosen once at start-up (SPEC §1, §5):
//  * direct — every request builds the page (the write-up's "before");
//  * singleflight — identical builds in flight are coalesced, nothing kept;
//  * cached — coalesced and kept as serialized bytes for the TTL, refreshed
//    ahead of expiry, served stale while a dependency fails; with live
//    rooms, room events rebuild the room's pages in the background (the
//    callers keep the page they had) from per-user privilege records.
//
// Thread safety: every member may be called concurrently from any thread;
// get() must be awaited on a strand (or a one-thread io_context).
#ifndef MICQ_SERVE_PAGE_SOURCE_H_
#define MICQ_SERVE_PAGE_SOURCE_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api_error.h"
#include "page.h"
#include "page_builder.h"
#include "privilege_cache.h"
#include "rebuild_scheduler.h"
#include "request_parsing.h"
#include "room_channels.h"

namespace micq::serve {

struct ServedPage {
  std::shared_ptr<const Page> page;
  bool stale = false;               // past its TTL, served because a dependency fails
  std::chrono::nanoseconds age{0};  // how old its data is
};

struct SourceStats {
  std::uint64_t hits = 0;  // served from memory within the TTL
  std::uint64_t stale_serves = 0;
  std::uint64_t loads_started = 0;
  std::uint64_t callers_coalesced = 0;
  std::uint64_t load_waits = 0;  // requests that waited for a load
  std::uint64_t early_refreshes = 0;
  std::uint64_t evictions = 0;
  std::uint64_t entries = 0;                      // pages the cache holds now
  std::optional<RebuildStats> rebuilds;           // cached with live rooms
  std::optional<PrivilegeCacheStats> privileges;  // cached with live rooms
};

class PageSource {
 public:
  virtual ~PageSource() = default;

  // A page servable at once, with no load and no coroutine; or nullopt.
  virtual std::optional<ServedPage> lookup(const PageKey&) { return std::nullopt; }

  // The page, waiting for a load if the strategy needs one.
  virtual boost::asio::awaitable<ApiResult<ServedPage>> get(PageKey key) = 0;

  // `events` were applied to `room`, which is now at `version` (nullopt: not
  // known, e.g. the outcome of the request is unknown).
  virtual void events_applied(const std::string& /*room*/, const std::vector<Event>& /*events*/,
                              std::optional<std::int64_t> /*version*/) {}

  virtual SourceStats stats() const = 0;
};

struct CachedSourceOptions {
  std::chrono::milliseconds ttl{1000};
  std::chrono::milliseconds max_stale{30'000};
  std::chrono::milliseconds wait_limit{1000};      // a caller's longest wait for a load
  std::chrono::milliseconds rebuild_interval{50};  // live rooms: least time between two rebuilds of a page
  std::size_t max_pages = 10'000;
  boost::asio::any_io_executor executor;  // where event rebuilds run (each page on a strand of its own)
  // Live rooms: the rooms' notifications (other instances' events), or
  // null to hear only this instance's. Must outlive the source.
  RoomChannels* channels = nullptr;
};

std::unique_ptr<PageSource> make_direct_source(PageBuilder& builder);
std::unique_ptr<PageSource> make_singleflight_source(PageBuilder& builder);
// `records` is the privilege cache the builder takes records from, or null
// for a plain TTL cache (events then leave cached pages alone: the
// write-up's design, --live-rooms off).
std::unique_ptr<PageSource> make_cached_source(PageBuilder& builder, PrivilegeCache* records,
                                               CachedSourceOptions options);

}  // namespace micq::serve

#endif  // MICQ_SERVE_PAGE_SOURCE_H_
