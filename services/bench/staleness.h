// StalenessTracker: how long after an event is applied the first answer
// showing it reaches a client. An event request's answer carries the room
// version it produced (SPEC §2); every list answer carries the version it
// was read at. The staleness of version V of a room is the time from the
// event answer that produced V to the first list answer for that room with
// version >= V received after it — server staleness plus the wait for the
// room's next poll (mean 1/rate; ~0.1 ms for a 10,000-viewer room).
//
// With several observers (the serve instances of a fleet, each read
// directly), every event is waited for by each observer on its own: the
// staleness of V as seen by observer k is the time to the first answer
// from k showing it, and every observer's samples go to the same
// histograms.
//
// Thread safety: every method may be called from any thread (list answers
// arrive on every load thread).
#ifndef MICQ_BENCH_STALENESS_H_
#define MICQ_BENCH_STALENESS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <vector>

#include "micq/loadgen/latency_histogram.h"
#include "micq/sync/mutex.h"

namespace micq::bench {

class StalenessTracker {
 public:
  using Clock = std::chrono::steady_clock;

  // `rooms`: rooms are 0..rooms-1, room 0 being the hot room; answers come
  // from observers 0..observers-1.
  explicit StalenessTracker(std::size_t rooms, std::size_t observers = 1);

  // An event request for `room` is on its way (until applied() or failed()).
  void sent(std::size_t room);
  // An event request for `room` was answered at `at` with `version`.
  void applied(std::size_t room, std::int64_t version, Clock::time_point at);
  // An event request for `room` failed: nothing to wait for.
  void failed(std::size_t room);
  // A list answer for `room` from `observer` showing `version` arrived at `at`.
  void seen(std::size_t room, std::int64_t version, Clock::time_point at, std::size_t observer = 0);
  // Whether a list answer for `room` from `observer` can matter: an event
  // is pending, or on its way (an answer may overtake the event's own
  // answer). The caller skips reading versions out of the others.
  bool waiting_on(std::size_t room, std::size_t observer = 0) const;

  // Copies, consistent at the time of the call.
  loadgen::LatencyHistogram all() const;
  loadgen::LatencyHistogram hot_room() const;
  // Applied events no answer has shown yet.
  std::uint64_t unseen() const;

 private:
  struct Pending {
    std::int64_t version;
    Clock::time_point applied_at;
  };
  struct RoomState {
    std::deque<Pending> pending;  // ascending versions
    std::int64_t highest_seen = -1;
    std::uint64_t events_in_flight = 0;
  };
  static constexpr std::size_t kMaxPendingPerRoom = 100'000;

  void record(std::size_t room, std::chrono::nanoseconds staleness) MICQ_REQUIRES(mu_);
  // Refreshes interested_[slot].
  void publish(std::size_t slot) MICQ_REQUIRES(mu_);
  // The index of (room, observer) in rooms_ and interested_.
  std::size_t slot(std::size_t room, std::size_t observer) const;
  void applied_for(std::size_t room, std::size_t slot, std::int64_t version, Clock::time_point at)
      MICQ_REQUIRES(mu_);

  const std::size_t rooms_count_;
  const std::size_t observers_;
  mutable sync::Mutex mu_;
  std::vector<RoomState> rooms_ MICQ_GUARDED_BY(mu_);  // per (room, observer), observer-major
  loadgen::LatencyHistogram all_ MICQ_GUARDED_BY(mu_);
  loadgen::LatencyHistogram hot_ MICQ_GUARDED_BY(mu_);
  std::uint64_t dropped_ MICQ_GUARDED_BY(mu_) = 0;  // pending entries given up to stay bounded
  // Per (room, observer): whether an event is pending or on its way — written under
  // mu_, read without it, so answers of rooms with nothing to wait for (all
  // but ~1%) take no lock.
  std::vector<std::atomic<bool>> interested_;
};

}  // namespace micq::bench

#endif  // MICQ_BENCH_STALENESS_H_
