// RoomChannels: how one serve instance hears what the others (and every
// writer of room events) did to the rooms it holds (SPEC §5 freshness, §8).
//
// Two sharded pub/sub channels per room, subscribed while the room is held
// (a cached page of it, or someone waiting on it):
//  * `micq:{room}:changed` — the room's new version, published by the
//    events script: the room's pages are rebuilt in the background, as for
//    a local event (a version already seen is ignored, so the instance that
//    applied the event does not rebuild twice);
//  * `micq:{room}:fleet` — micq's messages between instances:
//      "invalidate <version> <uid>..."  a `privilege` event for these users
//      "records" / "page"               shared records or a shared page of
//                                       the room were published
//    The last two wake the watchers of the room (an instance waiting for
//    another's fetch), who look again instead of polling.
//
// A subscription confirmed again after a loss counts as a change of the
// room: messages published meanwhile were missed. The first one is followed
// by a read of the room's version (caught_up): an event between a page's
// load and the subscription is not missed either.
//
// Bounded: a room is held only while a cached page of it is tracked or a
// fetch waits on it, and forgotten at its last release.
//
// Thread safety: every member may be called from any thread. Handlers run
// on the subscriber's strand, one at a time, and must not block.
#ifndef MICQ_SERVE_ROOM_CHANNELS_H_
#define MICQ_SERVE_ROOM_CHANNELS_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "micq/redis/commands.h"
#include "micq/redis/subscriber.h"

namespace micq::serve {

struct RoomChannelHandlers {
  // The room changed: `version` from a message, nullopt when messages may
  // have been missed (the subscription came back after a loss).
  std::function<void(const std::string& room, std::optional<std::int64_t> version)> changed;
  // A `privilege` event at `version` for `uids`.
  std::function<void(const std::string& room, std::int64_t version, const std::vector<std::string>& uids)>
      invalidated;
  // The room's notifications began (its first subscription confirmed) with
  // the room at `version`: what was built from an older one missed an event.
  std::function<void(const std::string& room, std::int64_t version)> caught_up;
};

struct RoomChannelStats {
  std::size_t rooms = 0;  // held now
  redis::SubscriberStats subscriber;
};

// The fleet channel's wake-up messages.
inline constexpr std::string_view kRecordsPublished = "records";
inline constexpr std::string_view kPagePublished = "page";

class RoomChannels {
  struct State;

 public:
  // `nodes`: the one Redis node, or the cluster's seeds (`mode`); `redis`
  // reads a room's version (it must outlive this).
  RoomChannels(boost::asio::any_io_executor executor, std::vector<redis::Endpoint> nodes,
               redis::Subscriber::Mode mode, redis::Commands& redis, std::chrono::milliseconds timeout,
               redis::SubscriberOptions options = {});
  ~RoomChannels();
  RoomChannels(const RoomChannels&) = delete;
  RoomChannels& operator=(const RoomChannels&) = delete;

  // Replaces the handlers: calls that begin after it returns use the new
  // ones (empty ones: nothing is called; the owner of the old ones clears
  // them before it goes).
  void set_handlers(RoomChannelHandlers handlers);

  // Counted: the room is subscribed from the first hold to the last release.
  void hold(const std::string& room);
  void release(const std::string& room);

  // While alive, the room is held and its wake-ups are kept for next():
  // one that arrives after watch() returned is never missed.
  class Watch {
   public:
    Watch(Watch&&) noexcept;
    Watch& operator=(Watch&&) = delete;
    ~Watch();
    // True at the room's next wake-up (a record or page published, or the
    // subscription confirmed), false if `timeout` passes first.
    boost::asio::awaitable<bool> next(std::chrono::milliseconds timeout);

   private:
    friend class RoomChannels;
    struct Impl;
    explicit Watch(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
  };
  Watch watch(const std::string& room);

  RoomChannelStats stats() const;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace micq::serve

#endif  // MICQ_SERVE_ROOM_CHANNELS_H_
