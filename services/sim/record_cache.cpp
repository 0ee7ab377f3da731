#include "record_cache.h"

#include <functional>
#include <string_view>

namespace micq::sim {

namespace {

// One string key: kind and uid are ids ([A-Za-z0-9_.-]), so '/' separates
// them unambiguously.
std::string key_text(const RecordKey& key, std::size_t payload_bytes) {
  std::string text;
  text.reserve(key.kind.size() + key.uid.size() + 44);
  text.append(key.kind).push_back('/');
  text.append(key.uid).push_back('/');
  text.append(std::to_string(key.gen)).push_back('/');
  text.append(std::to_string(payload_bytes));
  return text;
}

}  // namespace

RecordCache::RecordCache(std::size_t max_bytes) : shard_budget_(max_bytes / kShards) {}

std::shared_ptr<const std::string> RecordCache::get(const RecordKey& key, std::size_t payload_bytes) {
  std::string text = key_text(key, payload_bytes);
  Shard& shard = shards_[std::hash<std::string_view>{}(text) % kShards];
  {
    sync::MutexLock lock(shard.mu);
    auto it = shard.records.find(text);
    if (it != shard.records.end()) return it->second;
  }
  auto record = std::make_shared<const std::string>(make_record(key, payload_bytes));
  const std::size_t cost = record->size() + text.size() + kEntryOverhead;
  if (cost > shard_budget_) return record;  // never held: it alone would empty the shard
  sync::MutexLock lock(shard.mu);
  if (shard.bytes + cost > shard_budget_) {
    shard.records.clear();
    shard.bytes = 0;
  }
  auto [it, added] = shard.records.emplace(std::move(text), record);
  if (added) shard.bytes += cost;
  return it->second;
}

std::size_t RecordCache::bytes() const {
  std::size_t total = 0;
  for (const Shard& shard : shards_) {
    sync::MutexLock lock(shard.mu);
    total += shard.bytes;
  }
  return total;
}

std::size_t RecordCache::size() const {
  std::size_t total = 0;
  for (const Shard& shard : shards_) {
    sync::MutexLock lock(shard.mu);
    total += shard.records.size();
  }
  return total;
}

}  // namespace micq::sim
