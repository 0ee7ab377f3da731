// What one busy live room does (SPEC §6 `--scenario hot-room`): its event
// mix, and RoomMembers, who each of its events comes from.
//
// RoomMembers keeps the room's members as the event stream makes them.
// The room opens with `initial_members` members v0..v<n-1>; the first
// `core_size` are its top supporters, whose opening gifts are the room's
// largest, so they are the top of the ranking (the page). Then:
//   enter             a viewer who was never a member: v<n>, v<n+1>, ...
//   exit              a random member leaves; a top supporter who leaves
//                     is replaced in the core by a random member
//   gift              a top supporter with probability `core_gift_share`,
//                     else a random member
//   chat, share,      a random member
//   privilege
// A room with no members gets an enter, whatever was asked. So the page is
// mostly the core, and sees new users as members come and go.
//
// Example:
//   RoomMembers members({.initial_members = 10000, .seed = 5});
//   for (const auto& body : members.opening_events()) post(body);
//   RoomEvent event = members.pick(EventType::kGift);  // e.g. {kGift, "v3"}
//
// Thread safety: none; one thread (the event stream's) uses it.
#ifndef MICQ_BENCH_HOT_ROOM_H_
#define MICQ_BENCH_HOT_ROOM_H_

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "event_stream.h"

namespace micq::bench {

// 100 events per second, as SPEC §6 has them.
inline constexpr std::string_view kHotRoomEventRates = "enter=25,exit=25,chat=30,gift=15,share=3,privilege=2";

struct RoomEvent {
  EventType type;
  std::string uid;
};

class RoomMembers {
 public:
  struct Options {
    int initial_members = 10'000;
    int core_size = 10;
    double core_gift_share = 0.8;
    std::uint64_t seed = 1;
  };
  // At most this many events per request (SPEC §2).
  static constexpr int kEventsPerRequest = 1000;

  explicit RoomMembers(Options options);

  // The opening events of the room: every member enters and sends a gift,
  // the core's gifts above everyone else's; in requests of at most
  // kEventsPerRequest events.
  std::vector<std::string> opening_events() const;

  // The next event of `type` (an enter instead when the room is empty), its
  // effect on the membership already applied.
  RoomEvent pick(EventType type);

  std::size_t size() const { return members_.size(); }
  bool is_member(const std::string& uid) const { return position_.contains(uid); }
  const std::vector<std::string>& core() const { return core_; }
  const Options& options() const { return options_; }

 private:
  const std::string& random_member();  // REQUIRES: size() > 0
  void add(std::string uid);
  void remove_at(std::size_t index);

  const Options options_;
  std::vector<std::string> members_;                       // in no particular order
  std::unordered_map<std::string, std::size_t> position_;  // uid -> index in members_
  std::vector<std::string> core_;                          // the top supporters, all members
  int next_new_member_ = 0;                                // v<this> is the next to enter
  std::mt19937_64 rng_;
};

}  // namespace micq::bench

#endif  // MICQ_BENCH_HOT_ROOM_H_
