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
//   // hot path: no coroutine frame, one shared lock on one shard
//   if (auto hit = pages.lookup_fresh(key)) return respond(*hit->value);
//   auto page = co_await pages.get(key, [=]() -> asio::awaitable<Body> {
//     co_return co_await build_page(key);
//   });
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
// `shards` independently locked maps; a hit takes one shared lock on one
// shard and writes nothing shared but a per-thread counter.
// Lifetime: background refreshes keep the cache's state alive.
#ifndef MICQ_COALESCE_CACHE_H_
#define MICQ_COALESCE_CACHE_H_

#include <algorithm>
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "micq/coalesce/clock.h"
#include "micq/coalesce/group.h"
#include "micq/coalesce/internal/cache_entry.h"
#include "micq/coalesce/internal/counters.h"
#include "micq/coalesce/internal/expiry.h"
#include "micq/coalesce/internal/hit_view.h"
#include "micq/coalesce/result.h"
#include "micq/sync/mutex.h"

namespace micq::coalesce {

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

  explicit Cache(CacheOptions options = {}, AgeAtLoad age_at_load = {}, RefreshLead refresh_lead = {})
      : state_(std::make_shared<State>(std::move(options), std::move(age_at_load), std::move(refresh_lead))),
        hit_views_(state_) {}

  // The synchronous hot path: a fresh value, or nullopt when the caller must
  // go through get() (missing, expired, or due for an early refresh).
  //
  // A repeat hit is served from this thread's own view of the cache: no
  // lock, and no write to any cache line another thread reads (the value is
  // handed out through a thread-private owner), so hits scale with cores
  // even when every thread serves the same hot room. The view is validated
  // against the entry's version, which every store, invalidation and
  // eviction bumps.
  std::optional<CacheResult<V>> lookup_fresh(const Key& key) {
    State& st = *state_;
    TimePoint now = st.options.clock->now();
    internal::HitView<Key, V, Hash, KeyEqual>& view = hit_views_.local();
    const internal::SeenEntry<V>* seen = view.find(key);
    if (seen && now < seen->refresh_at &&
        internal::xfetch_impossible(now, seen->fresh_until, seen->load_time, st.options.early_refresh_beta)) {
      seen->entry->touch(now);
      st.counters.local().hits.inc();
      CacheResult<V> result;
      result.value = seen->value;
      result.freshness = Freshness::kFresh;
      result.age = now - seen->built_at;
      return result;
    }
    Shard& shard = st.shard_for(key);
    sync::ReaderLock lock(shard.mu);
    auto it = shard.entries.find(key);
    if (it == shard.entries.end()) return std::nullopt;
    Entry& entry = *it->second;
    if (!entry.value || now >= entry.fresh_until || st.early_refresh_due(entry, now)) {
      return std::nullopt;
    }
    entry.touch(now);
    st.counters.local().hits.inc();
    view.remember(key, it->second, st.options.max_entries);
    return st.served(entry, now, Freshness::kFresh);
  }

  // Everything: a fresh hit, an early refresh, a coalesced load, stale
  // serving. `loader` is `() -> asio::awaitable<V>` (or any loader Group
  // takes, one returning its error included) and is used at most once.
  // `timeout` bounds this caller's wait only; the load goes on without it.
  template <class Loader>
  boost::asio::awaitable<CacheResult<V>> get(Key key, Loader loader, WaitTimeout timeout = std::nullopt) {
    std::optional<CacheResult<V>> hit = lookup_fresh(key);
    if (hit) co_return std::move(*hit);
    std::shared_ptr<State> st = state_;
    auto executor = co_await boost::asio::this_coro::executor;
    TimePoint now = st->options.clock->now();
    Probe probe = st->probe(key, now);
    switch (probe.kind) {
      case ProbeKind::kFresh:
        st->counters.local().hits.inc();
        co_return std::move(probe.result);
      case ProbeKind::kFreshRefreshDue:
        st->counters.local().hits.inc();
        start_refresh(st, executor, key, std::move(loader));
        co_return std::move(probe.result);
      case ProbeKind::kStaleBackingOff:
        st->counters.local().stale_hits.inc();
        co_return std::move(probe.result);
      case ProbeKind::kFailedBackingOff:
        st->counters.local().misses.inc();
        co_return std::move(probe.result);
      case ProbeKind::kStale:
        if (st->options.stale_while_revalidate) {
          st->counters.local().stale_hits.inc();
          start_refresh(st, executor, key, std::move(loader));
          co_return std::move(probe.result);
        }
        break;  // wait for the reload, like a miss
      case ProbeKind::kMiss:
        break;
    }
    st->counters.local().misses.inc();  // kMiss, or kStale waiting for its reload
    st->counters.local().load_waits.inc();

    // Named, not a temporary inside the co_await expression: g++ 12
    // miscompiles temporaries there (double destruction).
    Loading<Loader> loading{st, key, std::move(loader)};
    Result<V> loaded = co_await st->group.run(key, std::move(loading), timeout);
    CacheResult<V> result;
    static_cast<Result<V>&>(result) = std::move(loaded);
    if (result.ok()) {
      result.freshness = Freshness::kLoaded;
      co_return result;
    }
    if (result.status == Status::kLoadFailed || result.status == Status::kTimedOut) {
      // stale-if-error: anything still within max_stale beats an error.
      std::optional<CacheResult<V>> stale = st->stale_fallback(key, st->options.clock->now());
      if (stale) {
        st->counters.local().stale_hits.inc();
        co_return std::move(*stale);
      }
    }
    co_return result;
  }

  // Rebuilds `key` while its callers keep getting the stored value (and
  // its age) until the new one replaces it; a failed rebuild leaves the old
  // value under the usual stale rules. The load that counts is one started
  // after this call: a load already in flight (which may predate whatever
  // made the caller ask) is waited out, then one more starts. Coalesced
  // like every load: at most one per key is in flight. Returns nullopt,
  // loading nothing, when `key` has no entry (never asked for, or evicted).
  template <class Loader>
  boost::asio::awaitable<std::optional<Result<V>>> refresh(Key key, Loader loader) {
    std::shared_ptr<State> st = state_;
    if (!st->contains(key)) co_return std::nullopt;
    Result<V> result = co_await own_load(st, key, loader);
    co_return result;
  }

  // Drops `key`. A load already in flight completes for its waiters but does
  // not store its result; the next caller starts a new load.
  void invalidate(const Key& key) { state_->invalidate(key); }

  // True while `key` has an entry (loading, fresh or stale).
  bool contains(const Key& key) const { return state_->contains(key); }

  CacheStats stats() const { return state_->stats(); }
  std::size_t size() const { return state_->size(); }

 private:
  using Entry = internal::CacheEntry<V>;

  struct alignas(64) Shard {
    sync::SharedMutex mu;
    std::unordered_map<Key, std::shared_ptr<Entry>, Hash, KeyEqual> entries MICQ_GUARDED_BY(mu);
  };

  struct Counters {
    internal::Counter hits, stale_hits, misses, load_waits, early_refreshes, evictions, loads_failed;
  };

  enum class ProbeKind { kMiss, kFresh, kFreshRefreshDue, kStale, kStaleBackingOff, kFailedBackingOff };

  struct Probe {
    ProbeKind kind = ProbeKind::kMiss;
    CacheResult<V> result;  // what to serve, for the kinds that serve
  };

  struct State {
    State(CacheOptions opts, AgeAtLoad age, RefreshLead lead)
        : options(std::move(opts)),
          age_at_load(std::move(age)),
          refresh_lead(std::move(lead)),
          shards(std::max<std::size_t>(1, options.shards)) {
      if (!options.clock) options.clock = SteadyClock::instance();
      if (!options.uniform) options.uniform = &internal::uniform_open_closed;
      std::size_t cap = (std::max<std::size_t>(1, options.max_entries) + shards.size() - 1) / shards.size();
      per_shard_cap = std::max<std::size_t>(1, cap);
      refresh_window_floor = std::max(
          options.refresh_window_min,
          Duration(static_cast<Duration::rep>(static_cast<double>(options.ttl.count()) *
                                              std::clamp(options.refresh_window_ttl_share, 0.0, 1.0))));
    }

    CacheOptions options;      // constant after construction
    AgeAtLoad age_at_load;     // constant after construction; may be empty
    RefreshLead refresh_lead;  // constant after construction; may be empty
    std::vector<Shard> shards;
    std::size_t per_shard_cap = 1;     // constant after construction
    Duration refresh_window_floor{0};  // constant after construction
    Group<Key, V, Hash, KeyEqual> group;
    internal::Striped<Counters> counters;
    std::atomic<std::uint64_t> next_generation{1};

    Shard& shard_for(const Key& key) { return shards[Hash{}(key) % shards.size()]; }

    bool early_refresh_due(const Entry& entry, TimePoint now) const {
      if (entry.refresh_claimed.load(std::memory_order_relaxed)) return false;
      if (now < entry.retry_after) return false;  // a refresh just failed: back off
      if (now >= entry.refresh_at) return true;   // the window: every time, not by chance
      if (internal::xfetch_impossible(now, entry.fresh_until, entry.load_time, options.early_refresh_beta)) {
        return false;
      }
      return internal::xfetch_due(now, entry.fresh_until, entry.load_time, options.early_refresh_beta,
                                  options.uniform());
    }

    static CacheResult<V> served(const Entry& entry, TimePoint now, Freshness freshness) {
      CacheResult<V> result;
      result.value = entry.value;
      result.freshness = freshness;
      result.age = now - entry.built_at;
      return result;
    }

    Probe probe(const Key& key, TimePoint now) {
      Probe probe;
      Shard& shard = shard_for(key);
      sync::ReaderLock lock(shard.mu);
      auto it = shard.entries.find(key);
      if (it == shard.entries.end()) return probe;
      Entry& entry = *it->second;
      entry.touch(now);
      bool backing_off = now < entry.retry_after;
      if (entry.value && now < entry.fresh_until) {
        probe.kind = early_refresh_due(entry, now) ? ProbeKind::kFreshRefreshDue : ProbeKind::kFresh;
        probe.result = served(entry, now, Freshness::kFresh);
      } else if (entry.value && now < entry.stale_until) {
        probe.kind = backing_off ? ProbeKind::kStaleBackingOff : ProbeKind::kStale;
        probe.result = served(entry, now, Freshness::kStale);
      } else if (backing_off && (entry.last_error || entry.last_error_value)) {
        probe.kind = ProbeKind::kFailedBackingOff;
        probe.result.status = Status::kLoadFailed;
        probe.result.error = entry.last_error;
        probe.result.error_value = entry.last_error_value;
      }
      return probe;
    }

    bool contains(const Key& key) {
      Shard& shard = shard_for(key);
      sync::ReaderLock lock(shard.mu);
      return shard.entries.count(key) > 0;
    }

    std::optional<CacheResult<V>> stale_fallback(const Key& key, TimePoint now) {
      Shard& shard = shard_for(key);
      sync::ReaderLock lock(shard.mu);
      auto it = shard.entries.find(key);
      if (it == shard.entries.end() || !it->second->value || now >= it->second->stale_until) {
        return std::nullopt;
      }
      return served(*it->second, now, Freshness::kStale);
    }

    bool claim_refresh(const Key& key) {
      Shard& shard = shard_for(key);
      sync::ReaderLock lock(shard.mu);
      auto it = shard.entries.find(key);
      if (it == shard.entries.end()) return false;
      return !it->second->refresh_claimed.exchange(true, std::memory_order_acq_rel);
    }

    // Marks the entry as loading (creating it, and evicting another if the
    // shard is full); returns the generation the load may store into.
    std::uint64_t begin_load(const Key& key, TimePoint now) {
      Shard& shard = shard_for(key);
      sync::WriterLock lock(shard.mu);
      auto [it, inserted] = shard.entries.try_emplace(key);
      if (inserted) it->second = std::make_shared<Entry>();
      Entry& entry = *it->second;
      if (inserted) {
        entry.generation = next_generation.fetch_add(1, std::memory_order_relaxed);
        entry.last_used.store(now.time_since_epoch().count(), std::memory_order_relaxed);
        if (shard.entries.size() > per_shard_cap) evict_one(shard, key);
      }
      entry.loading = true;
      return entry.generation;
    }

    // Evicts the least recently used of a small sample, sparing the entry
    // being inserted. Entries with a load in flight go only if the sample
    // holds nothing else (their load then completes without storing), so
    // the bound holds even when every key is loading.
    void evict_one(Shard& shard, const Key& spare) MICQ_REQUIRES(shard.mu) {
      constexpr std::size_t kSample = 8;
      auto& map = shard.entries;
      std::size_t buckets = map.bucket_count();
      std::size_t start =
          static_cast<std::size_t>(options.uniform() * static_cast<double>(buckets)) % buckets;
      const Key* idle_victim = nullptr;
      const Key* loading_victim = nullptr;
      Duration::rep idle_oldest = 0, loading_oldest = 0;
      std::size_t seen = 0;
      for (std::size_t i = 0; i < buckets && seen < kSample; ++i) {
        std::size_t b = (start + i) % buckets;
        for (auto local = map.begin(b); local != map.end(b) && seen < kSample; ++local) {
          if (KeyEqual{}(local->first, spare)) continue;
          ++seen;
          const Entry& candidate = *local->second;
          Duration::rep used = candidate.last_used.load(std::memory_order_relaxed);
          const Key*& victim = candidate.loading ? loading_victim : idle_victim;
          Duration::rep& oldest = candidate.loading ? loading_oldest : idle_oldest;
          if (!victim || used < oldest) {
            victim = &local->first;
            oldest = used;
          }
        }
      }
      const Key* victim = idle_victim ? idle_victim : loading_victim;
      if (victim) {
        auto it = map.find(*victim);
        it->second->version.fetch_add(1, std::memory_order_release);
        map.erase(it);
        counters.local().evictions.inc();
      }
    }

    // Stores what a load produced: `loaded.value`, or its failure.
    void finish_load(const Key& key, std::uint64_t generation, internal::Outcome<V> loaded, TimePoint started,
                     TimePoint ended) {
      std::shared_ptr<const V>& value = loaded.value;
      Shard& shard = shard_for(key);
      sync::WriterLock lock(shard.mu);
      auto it = shard.entries.find(key);
      if (it == shard.entries.end() || it->second->generation != generation) return;  // invalidated
      Entry& entry = *it->second;
      entry.loading = false;
      entry.refresh_claimed.store(false, std::memory_order_release);
      if (value) {
        Duration load_time = ended - started;
        if (refresh_lead) load_time = std::max(load_time, refresh_lead(*value));
        // A slow load keeps the window wide for a while (its weight halves
        // every TTL), however many quick loads follow: one that took longer
        // than the window once is not let to expire a hot key again.
        load_time =
            std::max(load_time, internal::decayed(entry.load_time, ended - entry.load_time_at, options.ttl));
        entry.load_time_at = ended;
        if (age_at_load) {
          Duration age = std::max(Duration::zero(), age_at_load(*value));
          started = std::min(started, ended - age);
        }
        // A value built from data exactly as old as the stored one's (a
        // rebuild from the same records) keeps its expiry: drawing the
        // jitter again could move it before a refresh already under way.
        bool same_age = entry.value && started == entry.built_at;
        entry.value = std::move(value);
        entry.version.fetch_add(1, std::memory_order_release);
        Duration window =
            internal::refresh_window(load_time, options.refresh_window_factor, refresh_window_floor);
        entry.load_time = load_time;
        if (same_age) {
          entry.refresh_at = std::min(entry.refresh_at, entry.fresh_until - window);
        } else {
          entry.built_at = started;
          entry.fresh_until =
              started + internal::jittered_ttl(options.ttl, options.ttl_jitter, 1.0 - options.uniform());
          entry.stale_until = entry.fresh_until + options.max_stale;
          entry.refresh_at = entry.fresh_until - window;
        }
        entry.last_error = nullptr;
        entry.last_error_value = nullptr;
        entry.retry_after = TimePoint{};
      } else {
        entry.last_error = std::move(loaded.error);
        entry.last_error_value = std::move(loaded.error_value);
        entry.retry_after = ended + options.error_backoff;
      }
    }

    void invalidate(const Key& key) {
      {
        Shard& shard = shard_for(key);
        sync::WriterLock lock(shard.mu);
        auto it = shard.entries.find(key);
        if (it != shard.entries.end()) {
          it->second->version.fetch_add(1, std::memory_order_release);
          shard.entries.erase(it);
        }
      }
      group.forget(key);
    }

    std::size_t size() {
      std::size_t n = 0;
      for (auto& shard : shards) {
        sync::ReaderLock lock(shard.mu);
        n += shard.entries.size();
      }
      return n;
    }

    CacheStats stats() {
      CacheStats s;
      counters.for_each([&](const Counters& c) {
        s.hits += c.hits.get();
        s.stale_hits += c.stale_hits.get();
        s.misses += c.misses.get();
        s.load_waits += c.load_waits.get();
        s.early_refreshes += c.early_refreshes.get();
        s.evictions += c.evictions.get();
        s.loads_failed += c.loads_failed.get();
      });
      GroupStats g = group.stats();
      s.loads_started = g.loads_started;
      s.callers_coalesced = g.callers_coalesced;
      s.entries = size();
      return s;
    }
  };

  // What the group's loader yields: the value, or the error the caller's
  // loader returned (passed on as the same ErrorValue).
  using Loaded = boost::system::result<std::shared_ptr<const V>, ErrorValue>;

  // The loader handed to the group: runs the caller's loader and stores
  // what it produced (or the failure) before the waiters are woken, so a
  // caller arriving right after sees the new entry.
  template <class Loader>
  struct Loading {
    std::shared_ptr<State> st;
    Key key;
    Loader loader;
    boost::asio::awaitable<Loaded> operator()() { return load(st, key, std::move(loader)); }
  };

  template <class Loader>
  static boost::asio::awaitable<Loaded> load(std::shared_ptr<State> st, Key key, Loader loader) {
    TimePoint started = st->options.clock->now();
    std::uint64_t generation = st->begin_load(key, started);
    internal::Outcome<V> outcome = co_await internal::run_loader<V>(loader);
    TimePoint ended = st->options.clock->now();
    if (!outcome.value) st->counters.local().loads_failed.inc();
    // Copied out first: finish_load() takes the outcome.
    std::exception_ptr thrown = outcome.error;
    Loaded loaded = outcome.value ? Loaded(boost::system::in_place_value, outcome.value)
                                  : Loaded(boost::system::in_place_error, outcome.error_value);
    st->finish_load(key, generation, std::move(outcome), started, ended);
    if (thrown) std::rethrow_exception(thrown);  // the group hands it on as thrown
    co_return loaded;
  }

  // Starts a background refresh unless one is already claimed for `key`.
  template <class Loader>
  static void start_refresh(const std::shared_ptr<State>& st, const boost::asio::any_io_executor& executor,
                            const Key& key, Loader&& loader) {
    if (!st->claim_refresh(key)) return;
    st->counters.local().early_refreshes.inc();
    boost::asio::co_spawn(executor, refresh(st, key, std::forward<Loader>(loader)), boost::asio::detached);
  }

  // A load of `key` that ran `loader` and began after this call: a load
  // already in flight (which may predate what made the caller ask, or run a
  // loader that renews less) is waited out, then one more starts; if that
  // one is joined too, it also began after the call.
  template <class Loader>
  static boost::asio::awaitable<Result<V>> own_load(const std::shared_ptr<State>& st, const Key& key,
                                                    const Loader& loader) {
    Result<V> result;
    for (int attempt = 0; attempt < 2; ++attempt) {
      Loading<Loader> loading{st, key, loader};
      result = co_await st->group.run(key, std::move(loading));
      if (result.leader) break;
    }
    co_return result;
  }

  // A refresh ahead runs its own loader, or the key could reach expiry
  // unrenewed behind a rebuild by refresh() that renews less.
  template <class Loader>
  static boost::asio::awaitable<void> refresh(std::shared_ptr<State> st, Key key, Loader loader) {
    Result<V> ignored = co_await own_load(st, key, loader);
    (void)ignored;
  }

  std::shared_ptr<State> state_;
  internal::HitViews<Key, V, Hash, KeyEqual> hit_views_;
};

}  // namespace micq::coalesce

#endif  // MICQ_COALESCE_CACHE_H_
