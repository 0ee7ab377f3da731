#include "micq/redis/cluster.h"

#include <gtest/gtest.h>

namespace micq::redis {
namespace {

// Values from the Redis Cluster specification.
TEST(KeySlot, MatchesRedis) {
  EXPECT_EQ(key_slot("123456789"), 0x31C3 % 16384);
  EXPECT_EQ(key_slot("foo"), 12182);
  EXPECT_EQ(key_slot("bar"), 5061);
}

TEST(KeySlot, HashTagsKeepKeysTogether) {
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
  EXPECT_EQ(key_slot("micq:{r1}:rank"), key_slot("micq:{r1}:ver"));
  EXPECT_EQ(key_slot("micq:{r1}:rank"), key_slot("r1"));
  EXPECT_EQ(key_slot("foo{}{bar}"), key_slot("foo{}{bar}")) << "an empty tag hashes the whole key";
  EXPECT_NE(key_slot("foo{}{bar}"), key_slot("bar"));
  EXPECT_EQ(key_slot("foo{{bar}}zap"), key_slot("{bar"));
  EXPECT_EQ(key_slot("foo{bar}{zap}"), key_slot("bar"));
}

TEST(Seeds, ParseAList) {
  auto seeds = parse_seeds("127.0.0.1:7000,10.0.0.2:7001");
  ASSERT_TRUE(seeds);
  ASSERT_EQ(seeds->size(), 2u);
  EXPECT_EQ((*seeds)[1].port, 7001);
  EXPECT_FALSE(parse_seeds("127.0.0.1:7000,"));
  EXPECT_FALSE(parse_seeds("nohost"));
}

}  // namespace
}  // namespace micq::redis
