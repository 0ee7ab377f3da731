// Internal to micq::coalesce: the pure arithmetic of expiry, kept apart so
// that it can be tested without a cache around it.
#ifndef MICQ_COALESCE_INTERNAL_EXPIRY_H_
#define MICQ_COALESCE_INTERNAL_EXPIRY_H_

#include "micq/coalesce/clock.h"

namespace micq::coalesce::internal {

// -ln(u) for the smallest u a 53-bit uniform draw can produce: no XFetch
// draw can move a refresh earlier than delta * beta * kMaxXFetchGap.
inline constexpr double kMaxXFetchGap = 36.8;

// A TTL shortened by up to `jitter` (a fraction in [0, 1)) so that keys
// loaded together do not expire together. `u` is a uniform draw in [0, 1).
// Never longer than `ttl`: a jittered page is never older than promised.
Duration jittered_ttl(Duration ttl, double jitter, double u);

// XFetch (Vattani, Chierichetti, Lowenstein, VLDB 2015): refresh early
// when now - delta * beta * ln(u) >= expiry. `delta` is how long the last
// load took, `beta` > 0 scales eagerness, `u` is uniform in (0, 1].
// The chance grows as expiry nears, and keys that take long to load start
// earlier, so a hot key is refreshed before anybody has to wait.
bool xfetch_due(TimePoint now, TimePoint expiry, Duration delta, double beta, double u);

// True when no draw could make xfetch_due() true yet: lets the hit path
// skip the random draw and the logarithm for most of a key's life.
bool xfetch_impossible(TimePoint now, TimePoint expiry, Duration delta, double beta);

// How long before expiry refresh ahead starts every time:
// max(floor, factor x load_time). A key asked at least every g whose next
// load takes at most L never expires unrefreshed while g + L <= this.
Duration refresh_window(Duration load_time, double factor, Duration floor);

// `value` halved for every `half_life` that `elapsed` spans.
Duration decayed(Duration value, Duration elapsed, Duration half_life);

// A uniform draw in (0, 1] from a per-thread generator.
double uniform_open_closed();

}  // namespace micq::coalesce::internal

#endif  // MICQ_COALESCE_INTERNAL_EXPIRY_H_
