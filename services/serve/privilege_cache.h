// PrivilegeCache: each user's privilege records, kept apart from the pages
// that show them (SPEC §5). A page's ranking changes with every room event;
// a user's records (one aggregator batch fanning out to every kind) rarely
// do. So a page rebuild reads the ranking and takes the records from here:
// an event costs one Redis round trip, not a batch.
//
//  * A record is at most `ttl` old: past it, a rebuild waits for a new one.
//  * Loads are coalesced per user: a rebuild needing a user whose batch is
//    in flight (started by any rebuild) awaits that batch; one batch
//    carries every other user the rebuild must fetch.
//  * Refreshed ahead: a record is due in the last max(min, ttl share x
//    TTL, factor x its batch's duration) of its TTL. A rebuild after an
//    event (RecordNeed::kUseValid) uses every record still valid and not
//    due; due ones it renews and awaits (a page built from a due record
//    would expire, less its jitter, before its own refresh could end),
//    taking along the page's other users past the renew age, and falls
//    back to them, still valid, if that batch fails. A refresh ahead of the
//    page or a miss (RecordNeed::kRefreshOld, and the page is still served
//    meanwhile) renews every record older than `renew_share` of its TTL,
//    so users fetched at different times (newcomers to the page) fall back
//    into one batch per TTL: a batch costs a call per kind however many
//    users it carries.
//  * invalidate(uid) (a `privilege` event): the next rebuild needing the
//    user fetches it anew, ignoring batches that started before.
//  * Bounded: at most `max_entries` users and `max_bytes` of records; the
//    least recently used go first.
//
// Thread safety: every member may be called concurrently from any thread.
// get() must be awaited from a coroutine whose executor runs one handler at
// a time (a strand), as the privilege source requires; batches it starts run
// there. Batches in flight keep the cache's state alive.
#ifndef MICQ_SERVE_PRIVILEGE_CACHE_H_
#define MICQ_SERVE_PRIVILEGE_CACHE_H_

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api_error.h"
#include "micq/coalesce/clock.h"
#include "privilege_source.h"

namespace micq::serve {

struct PrivilegeCacheOptions {
  coalesce::Duration ttl = std::chrono::seconds(1);
  std::size_t max_entries = 200'000;
  std::size_t max_bytes = std::size_t{512} << 20;
  double refresh_window_factor = 2.0;
  coalesce::Duration refresh_window_min = std::chrono::milliseconds(20);
  // The window is at least this share of the TTL: the page's jitter (10%)
  // plus the page's own refresh window (10%).
  double refresh_window_ttl_share = 0.2;
  double renew_share = 0.1;  // a refresh renews records older than this share of the TTL
  std::size_t shards = 16;
  std::shared_ptr<const coalesce::Clock> clock;  // default: the steady clock
};

enum class RecordNeed {
  kUseValid,    // after a room event: nobody should wait for a batch that is not needed
  kRefreshOld,  // ahead of the page's expiry, or a miss: renew what is past the renew age
};

// One user's records as cached.
struct CachedRecord {
  PrivilegeRecord record;
  coalesce::TimePoint fetched_at{};  // when the batch that fetched it started
  coalesce::Duration batch_time{0};  // how long that batch took
  std::uint64_t batch_seq = 0;       // that batch's number, in the order batches began
};

// The records of one page's users.
struct PageRecords {
  std::vector<std::shared_ptr<const CachedRecord>> records;  // one per uid asked, in order
  coalesce::TimePoint oldest_fetch{};                        // the oldest record's fetched_at (now if none)
  coalesce::Duration lead{0};  // the longest batch among them: what a refresh may take
};

struct PrivilegeCacheStats {
  std::uint64_t batches_new_users = 0;        // a user came onto a page with no usable record
  std::uint64_t batches_refresh = 0;          // expired, due or old records only
  std::uint64_t batches_privilege_event = 0;  // a user invalidated by a privilege event
  std::uint64_t batches_failed = 0;
  std::uint64_t users_fetched = 0;
  std::uint64_t users_joined = 0;  // users a get() awaited from a batch another had started
  std::uint64_t evictions = 0;
  std::size_t entries = 0;
  std::size_t bytes = 0;
};

class PrivilegeCache {
 public:
  // `source` must outlive the cache and every batch in flight.
  PrivilegeCache(PrivilegeSource& source, PrivilegeCacheOptions options);
  ~PrivilegeCache();
  PrivilegeCache(const PrivilegeCache&) = delete;
  PrivilegeCache& operator=(const PrivilegeCache&) = delete;

  // The records of `uids` (distinct), fetching what `need` asks for. `room`
  // is the page's room: a fleet-shared source looks in its shared records
  // first (empty: no room).
  boost::asio::awaitable<ApiResult<PageRecords>> get(std::vector<std::string> uids, RecordNeed need,
                                                     std::string room = {});

  // The next get() that needs `uid` fetches it anew.
  void invalidate(std::string_view uid);

  PrivilegeCacheStats stats() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace micq::serve

#endif  // MICQ_SERVE_PRIVILEGE_CACHE_H_
