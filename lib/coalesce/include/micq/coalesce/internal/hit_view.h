// Internal to micq::coalesce: each thread's private view of the entries a
// Cache served it, so that a repeat hit takes no lock and writes no cache
// line another thread reads. Not part of the public API.
//
// The contract with the cache (internal/cache_entry.h): the cache bumps an
// entry's `version` whenever it replaces the entry's value or drops the
// entry; a view hands out what it recorded only while the entry still reads
// the version recorded with it. The value is handed out through an owner
// private to the thread, so copies of it bump only that thread's reference
// count.
//
// Example (Cache::lookup_fresh):
//   HitView<Key, V>& view = hit_views.local();
//   if (const SeenEntry<V>* seen = view.find(key); seen && now < seen->refresh_at) {
//     return seen->value;  // no lock, nothing shared written
//   }
//   ... under the shard's lock, found `entry` fresh:
//   view.remember(key, entry, max_entries);
//
// Thread safety: a HitView belongs to one thread (HitViews::local() hands
// each thread its own) and is used by that thread only. HitViews may be
// used from any thread.
#ifndef MICQ_COALESCE_INTERNAL_HIT_VIEW_H_
#define MICQ_COALESCE_INTERNAL_HIT_VIEW_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <utility>

#include "micq/coalesce/clock.h"
#include "micq/coalesce/internal/cache_entry.h"

namespace micq::coalesce::internal {

// A process-unique, never reused, non-zero number for a cache instance.
std::uint64_t next_instance_id();

// One thread's private record of an entry it served.
template <class V>
struct SeenEntry {
  std::shared_ptr<CacheEntry<V>> entry;  // keeps `version` readable after eviction
  std::uint64_t version = 0;             // entry->version when recorded
  std::shared_ptr<const V> value;        // aliases a thread-private owner
  TimePoint built_at{};
  TimePoint fresh_until{};
  TimePoint refresh_at{};
  Duration load_time{};
};

template <class Key, class V, class Hash = std::hash<Key>, class KeyEqual = std::equal_to<Key>>
class HitViews;

// One thread's view of one cache.
template <class Key, class V, class Hash = std::hash<Key>, class KeyEqual = std::equal_to<Key>>
class HitView {
 public:
  // What this thread recorded of `key`, while the entry is unchanged since;
  // null when nothing was recorded or the entry's value was replaced or the
  // entry dropped (the record is then stale, and left for remember() to
  // overwrite).
  const SeenEntry<V>* find(const Key& key) const {
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    const SeenEntry<V>& seen = it->second;
    if (seen.entry->version.load(std::memory_order_acquire) != seen.version) return nullptr;
    return &seen;
  }

  // Records `entry` as it is now as this thread's view of `key`; a view
  // that already holds `max_entries` keys is emptied first.
  // REQUIRES: the lock of the shard holding `entry` is held (shared is
  // enough), so that its fields and `version` are read as one.
  void remember(const Key& key, const std::shared_ptr<CacheEntry<V>>& entry, std::size_t max_entries) {
    if (entries_.size() >= max_entries) entries_.clear();
    SeenEntry<V>& seen = entries_[key];
    seen.entry = entry;
    seen.version = entry->version.load(std::memory_order_relaxed);
    // A private control block: copies of `value` made by this thread bump
    // only this thread's counter, never the shared one.
    auto owner = std::make_shared<const PrivateOwner>(entry->value);
    seen.value = std::shared_ptr<const V>(owner, owner->value.get());
    seen.built_at = entry->built_at;
    seen.fresh_until = entry->fresh_until;
    seen.refresh_at = entry->refresh_at;
    seen.load_time = entry->load_time;
  }

  // Keys recorded, stale ones included.
  std::size_t size() const { return entries_.size(); }

 private:
  friend class HitViews<Key, V, Hash, KeyEqual>;

  // Holds one reference to a shared value for one thread. Aligned and
  // sized to whole cache lines so that the thread's reference count (in
  // the same allocation) shares a line with nothing another thread touches.
  struct alignas(64) PrivateOwner {
    explicit PrivateOwner(std::shared_ptr<const V> v) : value(std::move(v)) {}
    std::shared_ptr<const V> value;
  };

  std::weak_ptr<const void> owner_;  // lets views of destroyed caches be pruned
  std::unordered_map<Key, SeenEntry<V>, Hash, KeyEqual> entries_;
};

// The views every thread has of one cache. Views are per thread and per
// cache (told apart by a process-unique id, never by address). A thread's
// view lives as long as the thread, or until the cache's `owner` is gone and
// the thread opens a view of another cache of the same types.
template <class Key, class V, class Hash, class KeyEqual>
class HitViews {
 public:
  // `owner`: what lives exactly as long as the cache (its shared state).
  explicit HitViews(std::weak_ptr<const void> owner) : owner_(std::move(owner)) {}

  // This thread's view of this cache, made on first use.
  HitView<Key, V, Hash, KeyEqual>& local() {
    using View = HitView<Key, V, Hash, KeyEqual>;
    thread_local std::uint64_t last_id = 0;
    thread_local View* last_view = nullptr;
    if (last_id == id_) return *last_view;
    thread_local std::unordered_map<std::uint64_t, std::unique_ptr<View>> views;
    auto& slot = views[id_];
    if (!slot) {
      std::erase_if(views, [](const auto& kv) { return kv.second && kv.second->owner_.expired(); });
      slot = std::make_unique<View>();
      slot->owner_ = owner_;
    }
    last_id = id_;
    last_view = slot.get();
    return *slot;
  }

 private:
  std::uint64_t id_ = next_instance_id();
  std::weak_ptr<const void> owner_;
};

}  // namespace micq::coalesce::internal

#endif  // MICQ_COALESCE_INTERNAL_HIT_VIEW_H_
