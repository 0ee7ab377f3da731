#include "staleness.h"

#include <algorithm>

namespace micq::bench {

StalenessTracker::StalenessTracker(std::size_t rooms) : rooms_(rooms), interested_(rooms) {}

void StalenessTracker::publish(std::size_t room) {
  const RoomState& state = rooms_[room];
  interested_[room].store(!state.pending.empty() || state.events_in_flight > 0, std::memory_order_release);
}

void StalenessTracker::record(std::size_t room, std::chrono::nanoseconds staleness) {
  auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::max(staleness, std::chrono::nanoseconds(0)));
  all_.record(us);
  if (room == 0) hot_.record(us);
}

void StalenessTracker::sent(std::size_t room) {
  std::lock_guard lock(mu_);
  ++rooms_.at(room).events_in_flight;
  publish(room);
}

void StalenessTracker::failed(std::size_t room) {
  std::lock_guard lock(mu_);
  RoomState& state = rooms_.at(room);
  if (state.events_in_flight > 0) --state.events_in_flight;
  publish(room);
}

void StalenessTracker::applied(std::size_t room, std::int64_t version, Clock::time_point at) {
  std::lock_guard lock(mu_);
  RoomState& state = rooms_.at(room);
  if (state.events_in_flight > 0) --state.events_in_flight;
  // A list answer may overtake the event's own answer: it already showed it.
  if (version <= state.highest_seen) {
    record(room, std::chrono::nanoseconds(0));
    publish(room);
    return;
  }
  if (state.pending.size() == kMaxPendingPerRoom) {
    state.pending.pop_front();
    ++dropped_;
  }
  // Event answers can arrive out of version order; keep the queue sorted.
  auto at_or_after = std::find_if(state.pending.begin(), state.pending.end(),
                                  [&](const Pending& p) { return p.version > version; });
  state.pending.insert(at_or_after, Pending{version, at});
  publish(room);
}

void StalenessTracker::seen(std::size_t room, std::int64_t version, Clock::time_point at) {
  std::lock_guard lock(mu_);
  RoomState& state = rooms_.at(room);
  state.highest_seen = std::max(state.highest_seen, version);
  while (!state.pending.empty() && state.pending.front().version <= version) {
    record(room, at - state.pending.front().applied_at);
    state.pending.pop_front();
  }
  publish(room);
}

bool StalenessTracker::waiting_on(std::size_t room) const {
  return interested_.at(room).load(std::memory_order_acquire);
}

loadgen::LatencyHistogram StalenessTracker::all() const {
  std::lock_guard lock(mu_);
  return all_;
}

loadgen::LatencyHistogram StalenessTracker::hot_room() const {
  std::lock_guard lock(mu_);
  return hot_;
}

std::uint64_t StalenessTracker::unseen() const {
  std::lock_guard lock(mu_);
  std::uint64_t count = dropped_;
  for (const auto& state : rooms_) count += state.pending.size();
  return count;
}

}  // namespace micq::bench
