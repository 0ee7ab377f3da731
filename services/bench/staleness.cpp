#include "staleness.h"

#include <algorithm>
#include <stdexcept>

namespace micq::bench {

StalenessTracker::StalenessTracker(std::size_t rooms, std::size_t observers)
    : rooms_count_(rooms),
      observers_(std::max<std::size_t>(observers, 1)),
      rooms_(rooms * observers_),
      interested_(rooms * observers_) {}

std::size_t StalenessTracker::slot(std::size_t room, std::size_t observer) const {
  if (room >= rooms_count_ || observer >= observers_)
    throw std::out_of_range("StalenessTracker: no such room");
  return observer * rooms_count_ + room;
}

void StalenessTracker::publish(std::size_t slot) {
  const RoomState& state = rooms_[slot];
  interested_[slot].store(!state.pending.empty() || state.events_in_flight > 0, std::memory_order_release);
}

void StalenessTracker::record(std::size_t room, std::chrono::nanoseconds staleness) {
  auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::max(staleness, std::chrono::nanoseconds(0)));
  all_.record(us);
  if (room == 0) hot_.record(us);
}

void StalenessTracker::sent(std::size_t room) {
  sync::MutexLock lock(mu_);
  for (std::size_t observer = 0; observer < observers_; ++observer) {
    std::size_t at = slot(room, observer);
    ++rooms_[at].events_in_flight;
    publish(at);
  }
}

void StalenessTracker::failed(std::size_t room) {
  sync::MutexLock lock(mu_);
  for (std::size_t observer = 0; observer < observers_; ++observer) {
    std::size_t at = slot(room, observer);
    RoomState& state = rooms_[at];
    if (state.events_in_flight > 0) --state.events_in_flight;
    publish(at);
  }
}

void StalenessTracker::applied(std::size_t room, std::int64_t version, Clock::time_point at) {
  sync::MutexLock lock(mu_);
  for (std::size_t observer = 0; observer < observers_; ++observer)
    applied_for(room, slot(room, observer), version, at);
}

void StalenessTracker::applied_for(std::size_t room, std::size_t slot, std::int64_t version,
                                   Clock::time_point at) {
  RoomState& state = rooms_[slot];
  if (state.events_in_flight > 0) --state.events_in_flight;
  // A list answer may overtake the event's own answer: it already showed it.
  if (version <= state.highest_seen) {
    record(room, std::chrono::nanoseconds(0));
    publish(slot);
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
  publish(slot);
}

void StalenessTracker::seen(std::size_t room, std::int64_t version, Clock::time_point at,
                            std::size_t observer) {
  sync::MutexLock lock(mu_);
  std::size_t from = slot(room, observer);
  RoomState& state = rooms_[from];
  state.highest_seen = std::max(state.highest_seen, version);
  while (!state.pending.empty() && state.pending.front().version <= version) {
    record(room, at - state.pending.front().applied_at);
    state.pending.pop_front();
  }
  publish(from);
}

bool StalenessTracker::waiting_on(std::size_t room, std::size_t observer) const {
  return interested_[slot(room, observer)].load(std::memory_order_acquire);
}

loadgen::LatencyHistogram StalenessTracker::all() const {
  sync::MutexLock lock(mu_);
  return all_;
}

loadgen::LatencyHistogram StalenessTracker::hot_room() const {
  sync::MutexLock lock(mu_);
  return hot_;
}

std::uint64_t StalenessTracker::unseen() const {
  sync::MutexLock lock(mu_);
  std::uint64_t count = dropped_;
  for (const auto& state : rooms_) count += state.pending.size();
  return count;
}

}  // namespace micq::bench
