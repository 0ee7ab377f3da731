// RoomStore: a room's data in Redis (SPEC §8) — the key schema, the page
// read (ZREVRANGE WITHSCORES + ZCARD + GET ver in one pipelined round trip)
// and the events script (every change of a request applied atomically).
//
// Thread safety: all members may be called concurrently from coroutines on
// any executor the Redis client accepts.
#ifndef MICQ_SERVE_ROOM_STORE_H_
#define MICQ_SERVE_ROOM_STORE_H_

#include <array>
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api_error.h"
#include "micq/redis/cluster.h"
#include "micq/redis/commands.h"
#include "page_body.h"
#include "request_parsing.h"

namespace micq::serve {

// Redis keys and channels of a room; the {room} hash tag keeps them on one
// cluster slot, so one script or pipeline reaches all of them.
std::string rank_key(std::string_view room);
std::string version_key(std::string_view room);
std::string idempotency_key(std::string_view room, std::string_view key);
// SPEC §8: the room's new version, published by the events script.
std::string changed_channel(std::string_view room);
// micq's own messages between instances about the room (fleet_messages.h).
std::string fleet_channel(std::string_view room);
// A user's privilege records as the fleet shares them (fleet_records.h).
std::string shared_record_key(std::string_view room, std::string_view uid);
// The room's privilege generation: incremented by each event request with
// a `privilege` event, so a batch that began before one shares nothing.
std::string privilege_generation_key(std::string_view room);

// An applied (or replayed) event request.
struct Applied {
  std::string answer;  // {"applied":N,"version":V}
  std::int64_t version = 0;
  bool replay = false;  // answered from the Idempotency-Key's stored answer: nothing applied now
};

class RoomStore {
 public:
  // `redis` must outlive the store. With `wait_replicas` > 0 an applied
  // request is acknowledged only once that many replicas have it (WAIT), so
  // a master failing over loses nothing acknowledged; fewer in time is 503
  // outcome_unknown.
  RoomStore(redis::Commands& redis, std::chrono::milliseconds timeout, int wait_replicas = 0)
      : redis_(redis), timeout_(timeout), wait_replicas_(wait_replicas) {
    for (auto& seen : replicas_seen_) seen.store(wait_replicas, std::memory_order_relaxed);
  }

  // One page of the ranking (`size` entries from `page` * `size`), the
  // room's total and version, as of one moment.
  boost::asio::awaitable<ApiResult<RankPage>> read_page(std::string room, int page, int size);

  // Applies a validated request atomically and publishes the room's new
  // version on its changed channel (and, for `privilege` events, drops the
  // users' shared records and says so on the fleet channel); with an
  // idempotency key a replay gets the first answer again.
  boost::asio::awaitable<ApiResult<Applied>> apply(std::string room, const std::vector<Event>& events,
                                                   std::optional<std::string> idempotency);

  redis::Commands& redis() { return redis_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

  // Failed or malformed Redis calls so far (for /metrics).
  std::uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }
  void count_error() { errors_.fetch_add(1, std::memory_order_relaxed); }

 private:
  redis::Commands& redis_;
  const std::chrono::milliseconds timeout_;
  const int wait_replicas_;
  // Per hash slot: the replicas its master had at the last event there
  // (at most wait_replicas_), which is what the next event's WAIT asks for.
  std::array<std::atomic<int>, redis::kClusterSlots> replicas_seen_;
  std::atomic<std::uint64_t> errors_{0};
};

}  // namespace micq::serve

#endif  // MICQ_SERVE_ROOM_STORE_H_
