// RoomMix: the rooms a bench polls — one hot room plus many small ones, as
// on a real platform — and which room each scheduled request goes to.
// Every viewer polls once per `poll_seconds`, so a room's share of the
// requests is its share of the viewers.
//
// Example:
//   RoomMix mix = RoomMix::hot_and_small("bench", 10000, 200, 15, 3.0);
//   mix.rate_per_second();            // (10000 + 200 * 15) / 3
//   std::size_t room = picker.next(); // 0 (the hot room) about 77% of the time
#ifndef MICQ_BENCH_ROOM_MIX_H_
#define MICQ_BENCH_ROOM_MIX_H_

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace micq::bench {

struct Room {
  std::string id;
  int viewers = 0;
};

struct RoomMix {
  std::vector<Room> rooms;  // rooms[0] is the hot room
  double poll_seconds = 3;

  // "<prefix>-hot" with `hot_viewers`, then `small_rooms` rooms
  // "<prefix>-small-<i>" with `small_viewers` each.
  static RoomMix hot_and_small(const std::string& prefix, int hot_viewers, int small_rooms, int small_viewers,
                               double poll_seconds);

  double rate_per_second() const;
  std::int64_t viewers() const;
};

// Which room the next request is for. Random mode draws each room with
// probability proportional to its viewers (so Poisson arrivals split into
// independent Poisson streams per room); even mode interleaves rooms by
// smooth weighted round-robin, so each room's requests are evenly spaced too.
class RoomPicker {
 public:
  RoomPicker(const RoomMix& mix, bool random, std::uint64_t seed);
  std::size_t next();

 private:
  bool random_;
  std::vector<double> weights_;
  std::vector<double> current_;  // smooth weighted round-robin state
  double total_ = 0;
  std::discrete_distribution<std::size_t> draw_;
  std::mt19937_64 rng_;
};

}  // namespace micq::bench

#endif  // MICQ_BENCH_ROOM_MIX_H_
