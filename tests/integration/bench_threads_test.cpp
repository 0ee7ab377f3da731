// micq bench with its load spread over threads (also run under TSan: the
// answer hook and the staleness tracker are shared by the load threads).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "http_client.h"
#include "process.h"

namespace micq::testing {
namespace {

using namespace std::chrono_literals;

std::string read_json_in(const std::filesystem::path& dir) {
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  return "";
}

TEST(BenchThreadsTest, ThreadsShareTheRateAndTheirNumbersAddUp) {
  std::string dir = (std::filesystem::temp_directory_path() / "micq-bench-threads-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  ChildProcess bench({"bench", "--scenario",     "single", "--threads",      "2",   "--duration-s",
                      "2",     "--warmup-s",     "0.5",    "--hot-viewers",  "40",  "--rooms",
                      "1",     "--room-viewers", "4",      "--poll-seconds", "0.5", "--arrivals",
                      "even",  "--events",       "gift=5", "--kinds",        "2",   "--out-dir",
                      dir});
  auto code = bench.wait_exit(240s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << bench.output();
  auto doc = parse(read_json_in(dir));
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(doc.IsObject()) << bench.output();
  const auto& stage = doc["stages"][0];
  // 44 viewers polling twice a second for 2 s, split over two threads.
  EXPECT_EQ(stage["requests"]["scheduled"].GetUint64(), 176u);
  EXPECT_EQ(stage["requests"]["ok"].GetUint64() + stage["requests"]["errors"].GetUint64(), 176u);
  EXPECT_EQ(stage["requests"]["errors"].GetUint64(), 0u);
  EXPECT_GT(stage["latency_ms"]["p50"].GetDouble(), 0);
  const auto& events = stage["events"];
  EXPECT_GT(events["applied"].GetUint64(), 0u);
  EXPECT_EQ(stage["staleness_ms"]["samples"].GetUint64() + stage["staleness_ms"]["unseen"].GetUint64(),
            events["applied"].GetUint64());
}

}  // namespace
}  // namespace micq::testing
