// Many concurrent clients against a multi-threaded aggregator and sim.
// In the TSan build these processes are TSan-instrumented: a data race
// makes the process exit non-zero, which the clean-exit checks catch.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <atomic>
#include <thread>
#include <vector>

#include "http_client.h"
#include "process.h"

namespace micq::testing {
namespace {

TEST(LoadTest, ConcurrentBatchesAllSucceedAndProcessesExitCleanly) {
  auto sim =
      start_service({"sim", "--kinds", "6", "--latency-ms", "1", "--jitter-ms", "1", "--threads", "3"});
  auto aggregator =
      start_service({"aggregator", "--downstream", "http://127.0.0.1:" + std::to_string(sim.port), "--kinds",
                     "6", "--timeout-ms", "5000", "--threads", "3"});
  constexpr int kClients = 8, kBatches = 25;
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  clients.reserve(kClients);
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int b = 0; b < kBatches; ++b) {
        std::string uid = "u" + std::to_string(c * 1000 + b);
        auto reply = post(aggregator.port, "/v1/privileges/batch", R"({"uids":[")" + uid + R"("]})");
        rapidjson::Document doc;
        doc.Parse(reply.body().c_str());
        if (reply.result_int() == 200 && doc["degraded_kinds"].Size() == 0 &&
            doc["users"][uid.c_str()].MemberCount() == 6) {
          ++good;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good.load(), kClients * kBatches);
  rapidjson::Document stats;
  stats.Parse(get(sim.port, "/stats").body().c_str());
  EXPECT_EQ(stats["requests_total"].GetUint64(), static_cast<std::uint64_t>(kClients * kBatches * 6));
  auto aggregator_exit = aggregator.process->terminate();
  auto sim_exit = sim.process->terminate();
  ASSERT_TRUE(aggregator_exit && sim_exit);
  EXPECT_EQ(*aggregator_exit, 0) << aggregator.process->output();
  EXPECT_EQ(*sim_exit, 0) << sim.process->output();
}

}  // namespace
}  // namespace micq::testing
