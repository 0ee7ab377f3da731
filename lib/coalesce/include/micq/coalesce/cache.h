// Cache: a short-TTL cache of loaded values on top of a coalescing Group.
// Built for values like "the serialized body of room R, page P": read by
// thousands of callers a second, valid for about a second, expensive to
// build.
//
// Example:
//   micq::coalesce::CacheOptions options;
//   options.ttl = std::chrono::milliseconds(1000);
//   options.max_stale = std::chrono::seconds(30);
//   micq::coalesce::Cache<PageKey, Body> pages(options);
//
//   // hot path: no coroutine frame; a repeat hit on this thread takes no lock
//   if (auto hit = pages.lookup_fresh(key)) return respond(*hit->value);
//   // the loader named first: g++ 12 destroys the captures of a lambda
//   // made inside a co_await expression twice (docs/design.md)
//   auto load = [=]() -> asio::awaitable<Body> { co_return co_await build_page(key); };
//   auto page = co_await pages.get(key, load);
//   if (page.ok()) respond(*page.value, page.freshness == Freshness::kStale);
//
// What a caller gets (docs/coalescing.md has the whole table):
//  * fresh (built at most `ttl` ago): served from memory. Expiry is jittered
//    down by up to `ttl_jitter` so keys loaded together expire apart.
//  * near expiry: refresh ahead, never more than one per key. Every hit in
//    the refresh window before expiry — the larger of
//    `refresh_window_factor` x the last load's duration and a floor
//    (`refresh_window_min`, `refresh_window_ttl_share` of the TTL) — starts
//    a background reload: a guarantee, not a likelihood. A key asked at
//    least every g whose next load takes at most L is reloaded before it
//    expires whenever g + L <= the window (with the factor 2: any key asked
//    more often than its load takes, its loads not slowing down past 2x or
//    the floor).
//    Before the window, XFetch starts one with a probability growing as
//    expiry nears, spreading refreshes of many keys over time.
//  * refresh(key): a rebuild behind the callers' backs (a room event): they
//    keep the stored value until the new one replaces it.
//  * expired, within `max_stale`: the caller waits for the (coalesced)
//    reload; if it fails or the caller's deadline passes, the stale value
//    is served (stale-if-error, Freshness::kStale). With
//    `stale_while_revalidate`, the stale value is served at once instead and
//    one background refresh starts.
//  * a failed load is handed to its waiters, never stored as a value; for
//    `error_backoff` afterwards no new load starts for that key: callers get
//    the stale value if any, else the same error at once.
//  * invalidate(key): the entry is dropped and a load in flight will not
//    store its (older) result; the next caller loads anew.
//  * at most `max_entries` entries (rounded up to a multiple of `shards`);
//    inserting beyond evicts the least recently used of a small random
//    sample (as Redis does), idle entries before ones still loading.
//
// Thread safety: every member function may be called concurrently from any
// thread, including many threads running one io_context. Entries live in
// `shards` independently locked maps. A thread's first hit on a key takes
// one shared lock on one shard; its repeat hits are served from the
// thread's own view of the cache, validated by the entry's version: no
// lock, and nothing shared written but a per-thread counter (and, at most
// once a millisecond, the entry's last-use time).
// Lifetime: background refreshes keep the cache's state alive, so the Cache
// may be destroyed while they run. A value handed out (`value`, a
// shared_ptr<const V>) outlives its eviction or replacement.
// Memory: besides its entries, each thread that served hits keeps a view of
// up to `max_entries` keys, which holds the values it served until it
// records the key again or its view is emptied (when full).
//
// The implementation is in internal/: cache_state.h (the sharded map,
// eviction, the loads), cache_entry.h, hit_view.h (the per-thread view),
// cache-inl.h (the members below).
#ifndef MICQ_COALESCE_CACHE_H_
#define MICQ_COALESCE_CACHE_H_

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "micq/coalesce/clock.h"
#include "micq/coalesce/result.h"

namespace micq::coalesce {

namespace internal {
template <class Key, class V, class Hash, class KeyEqual>
struct CacheState;  // internal/cache_state.h
template <class Key, class V, class Hash, class KeyEqual>
class HitViews;  // internal/hit_view.h
}  // namespace internal

struct CacheOptions {
  Duration ttl = std::chrono::seconds(1);         // how long a value is fresh
  Duration max_stale = std::chrono::seconds(30);  // how long past ttl it may serve on error
  double ttl_jitter = 0.1;                        // expiry shortened by up to this fraction
  double early_refresh_beta = 1.0;                // XFetch beta; 0 turns early refresh off
  bool stale_while_revalidate = false;            // serve stale at once while refreshing
  // Deterministic refresh ahead: a hit within max(refresh_window_min,
  // refresh_window_ttl_share x ttl, refresh_window_factor x last load time)
  // of expiry starts a refresh. The share covers loads slower than the
  // last one (a long-tailed dependency) up to that much of the TTL.
  double refresh_window_factor = 2.0;
  Duration refresh_window_min{0};
  double refresh_window_ttl_share = 0;
  Duration error_backoff = std::chrono::milliseconds(250);  // no new load this long after a failure
  std::size_t max_entries = 10'000;
  std::size_t shards = 64;
  // REQUIRES: `clock` and `uniform` may be called from any thread at once;
  // `uniform` is called under a shard's lock, so it must not call into the
  // cache.
  std::shared_ptr<const Clock> clock;  // default: SteadyClock::instance()
  std::function<double()> uniform;     // draws in (0, 1]; default: per-thread PRNG
};

enum class Freshness : std::uint8_t {
  kFresh,   // served from the cache within its TTL
  kLoaded,  // this caller waited for a load (its own or one it joined)
  kStale,   // past its TTL, served because the reload failed or is pending
};

template <class V>
struct CacheResult : Result<V> {
  Freshness freshness = Freshness::kLoaded;
  Duration age{0};  // how long ago the load that built `value` started
};

struct CacheStats {
  std::uint64_t hits = 0;        // fresh values served
  std::uint64_t stale_hits = 0;  // stale values served
  std::uint64_t misses = 0;      // callers that found nothing servable
  std::uint64_t load_waits = 0;  // callers that waited for a load (a miss, or too old to serve)
  std::uint64_t loads_started = 0;
  std::uint64_t loads_failed = 0;
  std::uint64_t callers_coalesced = 0;  // callers that joined a load in flight
  std::uint64_t early_refreshes = 0;    // background refreshes started
  std::uint64_t evictions = 0;
  std::size_t entries = 0;
};

template <class Key, class V, class Hash = std::hash<Key>, class KeyEqual = std::equal_to<Key>>
class Cache {
 public:
  using WaitTimeout = std::optional<std::chrono::steady_clock::duration>;

  // How old a freshly loaded value already is (e.g. one fetched from a
  // shared second-level cache, built elsewhere earlier): its TTL then counts
  // from when it was built, not from when this load started.
  using AgeAtLoad = std::function<Duration(const V&)>;

  // How long the next reload of a value may take at least, when that is
  // known to be more than the last load took (a page rebuilt from cached
  // records in 1 ms whose records must be fetched again in 300 ms): sizes
  // the refresh-ahead window so that reload still ends before expiry.
  using RefreshLead = std::function<Duration(const V&)>;

  // `age_at_load` and `refresh_lead` may be empty (age 0, no lead).
  // REQUIRES: they are called under a shard's exclusive lock, once per
  // successful load, so they must not call into the cache (nor block).
  explicit Cache(CacheOptions options = {}, AgeAtLoad age_at_load = {}, RefreshLead refresh_lead = {});

  // The synchronous hot path: a fresh value, or nullopt when the caller must
  // go through get() (missing, expired, or due for an early refresh).
  //
  // A repeat hit is served from this thread's own view of the cache: no
  // lock, and no write to any cache line another thread reads (the value is
  // handed out through a thread-private owner), so hits scale with cores
  // even when every thread serves the same hot room. The view is validated
  // against the entry's version, which every store, invalidation and
  // eviction bumps.
  std::optional<CacheResult<V>> lookup_fresh(const Key& key);

  // Everything: a fresh hit, an early refresh, a coalesced load, stale
  // serving. `loader` is `() -> asio::awaitable<V>` (or any loader Group
  // takes, one returning its error included) and runs at most once: in
  // the load this call leads, or in the background refresh it starts (a
  // refresh ahead, or stale-while-revalidate's), which waits out a load
  // already in flight and then leads its own.
  // `timeout` bounds this caller's wait only; the load goes on without it.
  // REQUIRES: Loader is copy-constructible, and whatever it refers to (by
  // pointer or reference) outlives the loads it runs, which may outlive this
  // call (the caller's timeout, a refresh ahead).
  template <class Loader>
  boost::asio::awaitable<CacheResult<V>> get(Key key, Loader loader, WaitTimeout timeout = std::nullopt);

  // Rebuilds `key` while its callers keep getting the stored value (and
  // its age) until the new one replaces it; a failed rebuild leaves the old
  // value under the usual stale rules. The load that counts is one started
  // after this call: a load already in flight (which may predate whatever
  // made the caller ask) is waited out, then one more starts. Coalesced
  // like every load: at most one per key is in flight. Returns nullopt,
  // loading nothing, when `key` has no entry (never asked for, or evicted).
  // REQUIRES: Loader is copy-constructible (each attempt takes a copy; at
  // most one runs).
  template <class Loader>
  boost::asio::awaitable<std::optional<Result<V>>> refresh(Key key, Loader loader);

  // Drops `key`. A load already in flight completes for its waiters but does
  // not store its result; the next caller starts a new load.
  void invalidate(const Key& key);

  // True while `key` has an entry (loading, fresh or stale).
  bool contains(const Key& key) const;

  // A momentary sum over per-thread counters, not an atomic snapshot.
  CacheStats stats() const;
  std::size_t size() const;

 private:
  using State = internal::CacheState<Key, V, Hash, KeyEqual>;

  std::shared_ptr<State> state_;                          // shared with the loads in flight
  internal::HitViews<Key, V, Hash, KeyEqual> hit_views_;  // each thread's view of state_
};

}  // namespace micq::coalesce

// The implementation: the definitions of the members above and what they
// are built from.
#include "micq/coalesce/internal/cache-inl.h"  // IWYU pragma: export

#endif  // MICQ_COALESCE_CACHE_H_
