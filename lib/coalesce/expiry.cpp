#include "micq/coalesce/internal/expiry.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace micq::coalesce::internal {

Duration jittered_ttl(Duration ttl, double jitter, double u) {
  if (jitter <= 0) return ttl;
  if (jitter > 1) jitter = 1;
  auto cut = static_cast<Duration::rep>(static_cast<double>(ttl.count()) * jitter * u);
  return ttl - Duration(cut);
}

bool xfetch_due(TimePoint now, TimePoint expiry, Duration delta, double beta, double u) {
  if (beta <= 0 || delta <= Duration::zero()) return now >= expiry;
  double gap = -static_cast<double>(delta.count()) * beta * std::log(u);  // >= 0
  return static_cast<double>(now.time_since_epoch().count()) + gap >=
         static_cast<double>(expiry.time_since_epoch().count());
}

bool xfetch_impossible(TimePoint now, TimePoint expiry, Duration delta, double beta) {
  if (beta <= 0 || delta <= Duration::zero()) return now < expiry;
  double widest = static_cast<double>(delta.count()) * beta * kMaxXFetchGap;
  return static_cast<double>(now.time_since_epoch().count()) + widest <
         static_cast<double>(expiry.time_since_epoch().count());
}

Duration refresh_window(Duration load_time, double factor, Duration floor) {
  if (factor <= 0) return floor;
  auto scaled = Duration(static_cast<Duration::rep>(static_cast<double>(load_time.count()) * factor));
  return std::max(floor, scaled);
}

Duration decayed(Duration value, Duration elapsed, Duration half_life) {
  if (value <= Duration::zero() || half_life <= Duration::zero()) return Duration::zero();
  double halvings = static_cast<double>(elapsed.count()) / static_cast<double>(half_life.count());
  if (halvings <= 0) return value;
  if (halvings > 60) return Duration::zero();
  return Duration(static_cast<Duration::rep>(static_cast<double>(value.count()) * std::exp2(-halvings)));
}

double uniform_open_closed() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  // 53 random bits -> [0, 1), then flip to (0, 1] so that log() is finite.
  return 1.0 - static_cast<double>(generator() >> 11) * 0x1.0p-53;
}

}  // namespace micq::coalesce::internal
