// EventStream: the room events of a bench run — enter, exit, gift, chat,
// share and privilege at set rates (each a Poisson stream), spread over
// the rooms by their viewers. A privilege event first bumps the user's
// records in the sim (a real privilege change downstream), then tells
// serve. Every applied event's version goes to the StalenessTracker.
// Events pick their user among a room's first members, or, for a room
// given RoomMembers (hot_room.h), as that busy room's crowd does.
//
// Like the polls, events are open loop: each is sent at its scheduled time
// whether or not earlier ones have been answered.
#ifndef MICQ_BENCH_EVENT_STREAM_H_
#define MICQ_BENCH_EVENT_STREAM_H_

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "micq/http/client.h"
#include "micq/http/router.h"
#include "micq/service/event_types.h"
#include "room_mix.h"
#include "staleness.h"

namespace micq::bench {

class RoomMembers;

using service::EventType;

// Events per second of each type, e.g. "gift=2,chat=2,enter=1,privilege=0.5";
// types not named are 0; "none" or "" is no events.
struct EventRates {
  std::array<double, service::kEventTypeCount> per_second{};  // by EventType

  double total() const;
  static boost::system::result<EventRates, std::string> parse(std::string_view text);
  std::string to_string() const;
};

struct EventCounters {
  std::uint64_t sent = 0;
  std::uint64_t applied = 0;
  std::uint64_t failed = 0;  // refused, transport errors, timeouts
  std::uint64_t bumps = 0;
};

// The body of one event request for `uid`, e.g. {"type":"gift","uid":"v7","value":120}.
std::string event_body(EventType type, const std::string& uid, std::int64_t gift_value);
// The opening events of a room: `members` viewers enter and send a gift
// each (values from `seed`), so its ranking has a realistic spread.
std::string seeding_body(int members, std::uint64_t seed);
// The uid of a room's k-th member ("v<k>").
std::string member_uid(int k);

struct EventPlan {
  const RoomMix* mix = nullptr;
  EventRates rates;
  std::chrono::milliseconds duration{0};
  std::uint64_t seed = 7;
  int members_per_room_cap = 100;  // events pick among this many members of a room
  // When set, who the events of the hot room (room 0) come from, instead;
  // used from the stream's thread, and outlives the stream.
  RoomMembers* hot_room_members = nullptr;
};

// Runs `plan` on the calling coroutine's executor; completes when every
// event sent has been answered or has failed. `sim` may be null (no bumps:
// privilege events then only tell serve).
boost::asio::awaitable<void> run_event_stream(http::ClientPool& serve, http::ClientPool* sim, EventPlan plan,
                                              StalenessTracker& staleness, EventCounters& counters);

}  // namespace micq::bench

#endif  // MICQ_BENCH_EVENT_STREAM_H_
