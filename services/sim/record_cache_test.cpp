// RecordCache: the cached bytes are exactly the record's, each key is built
// once, the byte bound holds, and concurrent use is safe (also under TSan).
#include "record_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace micq::sim {
namespace {

TEST(RecordCache, ServesTheRecordItselfAndKeepsIt) {
  RecordCache cache;
  auto first = cache.get({"vip", "u1", 2}, 1024);
  EXPECT_EQ(*first, make_record({"vip", "u1", 2}, 1024));
  EXPECT_EQ(cache.get({"vip", "u1", 2}, 1024), first) << "the second use is the same bytes, not rebuilt";
  EXPECT_EQ(cache.size(), 1u);
}

TEST(RecordCache, EachPartOfTheKeyIsItsOwnRecord) {
  RecordCache cache;
  EXPECT_EQ(*cache.get({"vip", "u1", 0}, 1024), make_record({"vip", "u1", 0}, 1024));
  EXPECT_EQ(*cache.get({"medal", "u1", 0}, 1024), make_record({"medal", "u1", 0}, 1024));
  EXPECT_EQ(*cache.get({"vip", "u2", 0}, 1024), make_record({"vip", "u2", 0}, 1024));
  EXPECT_EQ(*cache.get({"vip", "u1", 1}, 1024), make_record({"vip", "u1", 1}, 1024));
  EXPECT_EQ(*cache.get({"vip", "u1", 0}, 2048), make_record({"vip", "u1", 0}, 2048));
  EXPECT_EQ(cache.size(), 5u);
}

TEST(RecordCache, StaysWithinItsByteBound) {
  // 16 shards of 16 KB: at most ~13 one-KB records per shard.
  constexpr std::size_t kBound = std::size_t{256} * 1024;
  RecordCache cache(kBound);
  for (int i = 0; i < 5000; ++i) {
    std::string uid = "u" + std::to_string(i);
    EXPECT_EQ(*cache.get({"vip", uid, 0}, 1024), make_record({"vip", uid, 0}, 1024));
    ASSERT_LE(cache.bytes(), kBound);
  }
  EXPECT_LE(cache.size(), 256u);
  EXPECT_GT(cache.size(), 0u);
  // Tiny records are charged their bookkeeping too: a bound of 64 KB holds
  // far fewer than 64 K one-byte records.
  RecordCache small(std::size_t{64} * 1024);
  for (int i = 0; i < 5000; ++i) small.get({"vip", "u" + std::to_string(i), 0}, 1);
  EXPECT_LE(small.size() * RecordCache::kEntryOverhead, std::size_t{64} * 1024);
  // A record larger than a shard's share is served but never held.
  RecordCache tiny(std::size_t{16} * 1024);
  EXPECT_EQ(tiny.get({"vip", "u1", 0}, 4096)->size(), make_record({"vip", "u1", 0}, 4096).size());
  EXPECT_EQ(tiny.size(), 0u);
}

TEST(RecordCache, ConcurrentUseGivesTheSameRecords) {
  RecordCache cache(std::size_t{64} * 1024);  // small: shards empty themselves while others read
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string uid = "u" + std::to_string((i * 7 + t) % 300);
        if (*cache.get({"vip", uid, 1}, 512) != make_record({"vip", uid, 1}, 512)) ++wrong[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(wrong[t], 0);
}

}  // namespace
}  // namespace micq::sim
