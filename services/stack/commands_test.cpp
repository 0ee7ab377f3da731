#include "micq/stack/commands.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace micq::stack {
namespace {

using Args = std::vector<std::string>;

TEST(Commands, EachProcessListensOnAFreeLoopbackPortWiredToTheOneBefore) {
  EXPECT_EQ(sim_command("24", {"--latency-ms", "5"}),
            (Args{"sim", "--listen", "127.0.0.1:0", "--kinds", "24", "--latency-ms", "5"}));
  EXPECT_EQ(aggregator_command("24", 4001), (Args{"aggregator", "--listen", "127.0.0.1:0", "--kinds", "24",
                                                  "--downstream", "http://127.0.0.1:4001"}));
  EXPECT_EQ(serve_command({.redis = "127.0.0.1:6379", .aggregator_port = 4002, .events_token = "t"},
                          {"--l2", "on"}),
            (Args{"serve", "--listen", "127.0.0.1:0", "--redis", "127.0.0.1:6379", "--aggregator",
                  "http://127.0.0.1:4002", "--events-token", "t", "--l2", "on"}));
}

TEST(Commands, ServeTakesTheClusterWhenGivenNoSingleRedis) {
  EXPECT_EQ(serve_command({.listen = "0.0.0.0:8080",
                           .redis_cluster = "127.0.0.1:7000,127.0.0.1:7001",
                           .aggregator_port = 4002,
                           .events_token = "t"}),
            (Args{"serve", "--listen", "0.0.0.0:8080", "--redis-cluster", "127.0.0.1:7000,127.0.0.1:7001",
                  "--aggregator", "http://127.0.0.1:4002", "--events-token", "t"}));
}

}  // namespace
}  // namespace micq::stack
