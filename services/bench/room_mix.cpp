#include "room_mix.h"

namespace micq::bench {

RoomMix RoomMix::hot_and_small(const std::string& prefix, int hot_viewers, int small_rooms, int small_viewers,
                               double poll_seconds) {
  RoomMix mix;
  mix.poll_seconds = poll_seconds;
  mix.rooms.push_back({prefix + "-hot", hot_viewers});
  for (int i = 1; i <= small_rooms; ++i)
    mix.rooms.push_back({prefix + "-small-" + std::to_string(i), small_viewers});
  return mix;
}

double RoomMix::rate_per_second() const { return static_cast<double>(viewers()) / poll_seconds; }

std::int64_t RoomMix::viewers() const {
  std::int64_t total = 0;
  for (const auto& room : rooms) total += room.viewers;
  return total;
}

namespace {
std::vector<double> weights_of(const RoomMix& mix) {
  std::vector<double> weights;
  for (const auto& room : mix.rooms) weights.push_back(room.viewers);
  return weights;
}
}  // namespace

RoomPicker::RoomPicker(const RoomMix& mix, bool random, std::uint64_t seed)
    : random_(random),
      weights_(weights_of(mix)),
      current_(weights_.size(), 0.0),
      draw_(weights_.begin(), weights_.end()),
      rng_(seed) {
  for (double weight : weights_) total_ += weight;
}

std::size_t RoomPicker::next() {
  if (random_) return draw_(rng_);
  // Smooth weighted round-robin (as in nginx's upstream balancer): every
  // room gains its weight, the richest is picked and pays the total.
  std::size_t best = 0;
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    current_[i] += weights_[i];
    if (current_[i] > current_[best]) best = i;
  }
  current_[best] -= total_;
  return best;
}

}  // namespace micq::bench
