// RecordCache: serialized sim records by (kind, uid, gen, payload size).
//
// A record depends only on its key (record.h), so the sim builds each once
// and splices the bytes into every answer that lists it. Building records
// was ~35% of the sim's CPU: the sim stands in for services on other
// machines, and every cycle it spends is taken from the system measured
// beside it on the same cores.
//
// Bounded: at most `max_bytes` over all shards, counting each record, its
// key and a per-entry allowance for the bookkeeping (so tiny records do not
// slip past the bound); a shard that would go past its share is emptied
// first (records are cheap to rebuild, and a simple bound beats a precise
// LRU here).
//
// Thread safety: get() may be called concurrently; shards have their own
// mutex, and a record is built outside any lock.
#ifndef MICQ_SIM_RECORD_CACHE_H_
#define MICQ_SIM_RECORD_CACHE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "micq/sync/mutex.h"
#include "record.h"

namespace micq::sim {

class RecordCache {
 public:
  explicit RecordCache(std::size_t max_bytes = std::size_t{64} * 1024 * 1024);

  // The record for `key` at `payload_bytes`, built on first use.
  std::shared_ptr<const std::string> get(const RecordKey& key, std::size_t payload_bytes);

  // Records held now, and the bytes they are charged (record, key and a
  // fixed allowance for the map node, control block and key allocation),
  // over all shards (for tests).
  std::size_t size() const;
  std::size_t bytes() const;

  // Charged per record beyond its own and its key's bytes.
  static constexpr std::size_t kEntryOverhead = 160;

 private:
  static constexpr std::size_t kShards = 16;
  struct Shard {
    mutable sync::Mutex mu;
    std::unordered_map<std::string, std::shared_ptr<const std::string>> records MICQ_GUARDED_BY(mu);
    std::size_t bytes MICQ_GUARDED_BY(mu) = 0;
  };
  const std::size_t shard_budget_;
  std::array<Shard, kShards> shards_;
};

}  // namespace micq::sim

#endif  // MICQ_SIM_RECORD_CACHE_H_
