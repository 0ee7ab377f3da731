#include "micq/redis/cluster.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>

namespace micq::redis {
namespace {

// Values from the Redis Cluster specification.
TEST(KeySlot, MatchesRedis) {
  EXPECT_EQ(key_slot("123456789"), 0x31C3 % kClusterSlots);
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

// Seeds that accept connections but never answer: every step of a routed
// call (map refresh per seed, attempts) shares the caller's one deadline,
// rather than each step waiting a whole deadline of its own.
TEST(RedisCluster, SilentSeedsFailWithinTheCallersDeadline) {
  namespace asio = boost::asio;
  asio::io_context ioc;
  std::vector<asio::ip::tcp::acceptor> silent;  // listening, never accepting, never answering
  std::vector<Endpoint> seeds;
  for (int i = 0; i < 3; ++i) {
    silent.emplace_back(ioc, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    seeds.push_back({"127.0.0.1", silent.back().local_endpoint().port()});
  }
  RedisCluster cluster(ioc.get_executor(), seeds);
  const auto deadline = std::chrono::milliseconds(1000);
  auto started = std::chrono::steady_clock::now();
  auto reply =
      asio::co_spawn(ioc, cluster.command(Command{"GET", "micq:{r1}:ver"}, deadline), asio::use_future);
  ioc.run();
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_FALSE(reply.get());
  // One deadline, not one per seed (three seeds: 3 s before the fix);
  // the bound is generous, the difference is whole deadlines.
  EXPECT_LT(took, 2 * deadline);
}

}  // namespace
}  // namespace micq::redis
