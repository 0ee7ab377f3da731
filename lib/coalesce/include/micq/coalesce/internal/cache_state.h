// Internal to micq::coalesce: a Cache's shared state — its sharded map of
// entries, the eviction that bounds it, its counters and the loads that
// store into it. Not part of the public API: micq/coalesce/cache.h includes
// this after its public types, and Cache is a handle on a CacheState.
//
// Locking: each shard's map is guarded by the shard's SharedMutex. An
// entry's fields are written under the exclusive lock of the shard holding
// it and read under its shared lock (internal/cache_entry.h says which are
// atomic and why). The only code of the cache's user run under a shard's
// lock is CacheOptions::uniform (shared or exclusive) and AgeAtLoad and
// RefreshLead (finish_load(), exclusive); loaders run under none. Loads run
// as their own coroutines, each holding the state alive (std::shared_ptr),
// so a Cache may be destroyed while they run.
#ifndef MICQ_COALESCE_INTERNAL_CACHE_STATE_H_
#define MICQ_COALESCE_INTERNAL_CACHE_STATE_H_

#ifndef MICQ_COALESCE_CACHE_H_
#error "internal/cache_state.h is included through micq/coalesce/cache.h"
#endif

#include <algorithm>
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/system/result.hpp>
#include <cstddef>
#include <cstdint>
#include <exception>
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
#include "micq/coalesce/internal/flight.h"
#include "micq/coalesce/result.h"
#include "micq/sync/mutex.h"

namespace micq::coalesce::internal {

template <class Key, class V, class Hash, class KeyEqual>
struct alignas(64) CacheShard {
  sync::SharedMutex mu;
  std::unordered_map<Key, std::shared_ptr<CacheEntry<V>>, Hash, KeyEqual> entries MICQ_GUARDED_BY(mu);
};

struct CacheCounters {
  Counter hits, stale_hits, misses, load_waits, early_refreshes, evictions, loads_failed;
};

// What a look at one key found, for Cache::get() to act on.
enum class ProbeKind { kMiss, kFresh, kFreshRefreshDue, kStale, kStaleBackingOff, kFailedBackingOff };

template <class V>
struct CacheProbe {
  ProbeKind kind = ProbeKind::kMiss;
  CacheResult<V> result;  // what to serve, for the kinds that serve
};

template <class Key, class V, class Hash, class KeyEqual>
struct CacheState {
  using Entry = CacheEntry<V>;
  using Shard = CacheShard<Key, V, Hash, KeyEqual>;
  using Counters = CacheCounters;
  using Probe = CacheProbe<V>;
  using AgeAtLoad = std::function<Duration(const V&)>;    // Cache::AgeAtLoad
  using RefreshLead = std::function<Duration(const V&)>;  // Cache::RefreshLead

  CacheState(CacheOptions opts, AgeAtLoad age, RefreshLead lead)
      : options(std::move(opts)),
        age_at_load(std::move(age)),
        refresh_lead(std::move(lead)),
        shards(std::max<std::size_t>(1, options.shards)) {
    if (!options.clock) options.clock = SteadyClock::instance();
    if (!options.uniform) options.uniform = &uniform_open_closed;
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
  Striped<Counters> counters;
  std::atomic<std::uint64_t> next_generation{1};

  Shard& shard_for(const Key& key) { return shards[Hash{}(key) % shards.size()]; }

  bool early_refresh_due(const Entry& entry, TimePoint now) const {
    if (entry.refresh_claimed.load(std::memory_order_relaxed)) return false;
    if (now < entry.retry_after) return false;  // a refresh just failed: back off
    if (now >= entry.refresh_at) return true;   // the window: every time, not by chance
    if (xfetch_impossible(now, entry.fresh_until, entry.load_time, options.early_refresh_beta)) {
      return false;
    }
    return xfetch_due(now, entry.fresh_until, entry.load_time, options.early_refresh_beta, options.uniform());
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
    std::size_t start = static_cast<std::size_t>(options.uniform() * static_cast<double>(buckets)) % buckets;
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
  void finish_load(const Key& key, std::uint64_t generation, Outcome<V> loaded, TimePoint started,
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
      load_time = std::max(load_time, decayed(entry.load_time, ended - entry.load_time_at, options.ttl));
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
      Duration window = refresh_window(load_time, options.refresh_window_factor, refresh_window_floor);
      entry.load_time = load_time;
      if (same_age) {
        entry.refresh_at = std::min(entry.refresh_at, entry.fresh_until - window);
      } else {
        entry.built_at = started;
        entry.fresh_until = started + jittered_ttl(options.ttl, options.ttl_jitter, 1.0 - options.uniform());
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

  // What the group's loader yields: the value, or the error the caller's
  // loader returned (passed on as the same ErrorValue).
  using Loaded = boost::system::result<std::shared_ptr<const V>, ErrorValue>;

  // The loader handed to the group: runs the caller's loader and stores
  // what it produced (or the failure) before the waiters are woken, so a
  // caller arriving right after sees the new entry.
  template <class Loader>
  struct Loading {
    std::shared_ptr<CacheState> st;
    Key key;
    Loader loader;
    boost::asio::awaitable<Loaded> operator()() { return load(st, key, std::move(loader)); }
  };

  template <class Loader>
  static boost::asio::awaitable<Loaded> load(std::shared_ptr<CacheState> st, Key key, Loader loader) {
    TimePoint started = st->options.clock->now();
    std::uint64_t generation = st->begin_load(key, started);
    Outcome<V> outcome = co_await run_loader<V>(loader);
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
  static void start_refresh(const std::shared_ptr<CacheState>& st,
                            const boost::asio::any_io_executor& executor, const Key& key, Loader&& loader) {
    if (!st->claim_refresh(key)) return;
    st->counters.local().early_refreshes.inc();
    boost::asio::co_spawn(executor, refresh_ahead(st, key, std::forward<Loader>(loader)),
                          boost::asio::detached);
  }

  // A load of `key` that ran `loader` and began after this call: a load
  // already in flight (which may predate what made the caller ask, or run a
  // loader that renews less) is waited out, then one more starts; if that
  // one is joined too, it also began after the call.
  template <class Loader>
  static boost::asio::awaitable<Result<V>> own_load(const std::shared_ptr<CacheState>& st, const Key& key,
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
  static boost::asio::awaitable<void> refresh_ahead(std::shared_ptr<CacheState> st, Key key, Loader loader) {
    Result<V> ignored = co_await own_load(st, key, loader);
    (void)ignored;
  }
};

}  // namespace micq::coalesce::internal

#endif  // MICQ_COALESCE_INTERNAL_CACHE_STATE_H_
