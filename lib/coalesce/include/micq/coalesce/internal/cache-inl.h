// Internal to micq::coalesce: the definitions of Cache's members, over its
// CacheState (internal/cache_state.h) and per-thread HitViews
// (internal/hit_view.h). Not part of the public API: the contracts are in
// micq/coalesce/cache.h, which includes this at its end.
#ifndef MICQ_COALESCE_INTERNAL_CACHE_INL_H_
#define MICQ_COALESCE_INTERNAL_CACHE_INL_H_

#ifndef MICQ_COALESCE_CACHE_H_
#error "internal/cache-inl.h is included through micq/coalesce/cache.h"
#endif

#include <boost/asio/awaitable.hpp>
#include <boost/asio/this_coro.hpp>
#include <memory>
#include <optional>
#include <utility>

#include "micq/coalesce/internal/cache_state.h"
#include "micq/coalesce/internal/expiry.h"
#include "micq/coalesce/internal/hit_view.h"
#include "micq/sync/mutex.h"

namespace micq::coalesce {

template <class Key, class V, class Hash, class KeyEqual>
inline Cache<Key, V, Hash, KeyEqual>::Cache(CacheOptions options, AgeAtLoad age_at_load,
                                            RefreshLead refresh_lead)
    : state_(std::make_shared<State>(std::move(options), std::move(age_at_load), std::move(refresh_lead))),
      hit_views_(state_) {}

template <class Key, class V, class Hash, class KeyEqual>
inline std::optional<CacheResult<V>> Cache<Key, V, Hash, KeyEqual>::lookup_fresh(const Key& key) {
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
  typename State::Shard& shard = st.shard_for(key);
  sync::ReaderLock lock(shard.mu);
  auto it = shard.entries.find(key);
  if (it == shard.entries.end()) return std::nullopt;
  typename State::Entry& entry = *it->second;
  if (!entry.value || now >= entry.fresh_until || st.early_refresh_due(entry, now)) {
    return std::nullopt;
  }
  entry.touch(now);
  st.counters.local().hits.inc();
  view.remember(key, it->second, st.options.max_entries);
  return st.served(entry, now, Freshness::kFresh);
}

template <class Key, class V, class Hash, class KeyEqual>
template <class Loader>
boost::asio::awaitable<CacheResult<V>> Cache<Key, V, Hash, KeyEqual>::get(Key key, Loader loader,
                                                                          WaitTimeout timeout) {
  using internal::ProbeKind;
  std::optional<CacheResult<V>> hit = lookup_fresh(key);
  if (hit) co_return std::move(*hit);
  std::shared_ptr<State> st = state_;
  auto executor = co_await boost::asio::this_coro::executor;
  TimePoint now = st->options.clock->now();
  typename State::Probe probe = st->probe(key, now);
  switch (probe.kind) {
    case ProbeKind::kFresh:
      st->counters.local().hits.inc();
      co_return std::move(probe.result);
    case ProbeKind::kFreshRefreshDue:
      st->counters.local().hits.inc();
      State::start_refresh(st, executor, key, std::move(loader));
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
        State::start_refresh(st, executor, key, std::move(loader));
        co_return std::move(probe.result);
      }
      break;  // wait for the reload, like a miss
    case ProbeKind::kMiss:
      break;
  }
  st->counters.local().misses.inc();  // kMiss, or kStale waiting for its reload
  st->counters.local().load_waits.inc();

  // Named, not braced inside the co_await expression: g++ 12 destroys the
  // members of a braced aggregate there twice (PR 101976, docs/design.md).
  typename State::template Loading<Loader> loading{st, key, std::move(loader)};
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

template <class Key, class V, class Hash, class KeyEqual>
template <class Loader>
boost::asio::awaitable<std::optional<Result<V>>> Cache<Key, V, Hash, KeyEqual>::refresh(Key key,
                                                                                        Loader loader) {
  std::shared_ptr<State> st = state_;
  if (!st->contains(key)) co_return std::nullopt;
  Result<V> result = co_await State::own_load(st, key, loader);
  co_return result;
}

template <class Key, class V, class Hash, class KeyEqual>
inline void Cache<Key, V, Hash, KeyEqual>::invalidate(const Key& key) {
  state_->invalidate(key);
}

template <class Key, class V, class Hash, class KeyEqual>
inline bool Cache<Key, V, Hash, KeyEqual>::contains(const Key& key) const {
  return state_->contains(key);
}

template <class Key, class V, class Hash, class KeyEqual>
inline CacheStats Cache<Key, V, Hash, KeyEqual>::stats() const {
  return state_->stats();
}

template <class Key, class V, class Hash, class KeyEqual>
inline std::size_t Cache<Key, V, Hash, KeyEqual>::size() const {
  return state_->size();
}

}  // namespace micq::coalesce

#endif  // MICQ_COALESCE_INTERNAL_CACHE_INL_H_
