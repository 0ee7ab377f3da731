// micq bench, smoke: an open-loop run against a real server sends what its
// schedule says, counts answers and reports percentiles.
#include <gtest/gtest.h>

#include <regex>

#include "process.h"

namespace micq::testing {
namespace {

using namespace std::chrono_literals;

long field(const std::string& output, const std::string& name) {
  std::smatch match;
  if (!std::regex_search(output, match, std::regex(name + R"(\s+(\d+))"))) return -1;
  return std::stol(match[1]);
}

TEST(BenchTest, OpenLoopRunSendsOnScheduleAndReports) {
  auto sim = start_service({"sim", "--kinds", "1"});
  ChildProcess bench({"bench", "--target", "http://127.0.0.1:" + std::to_string(sim.port), "--path",
                      "/healthz", "--viewers", "300", "--poll-seconds", "1", "--duration-s", "1",
                      "--arrivals", "even"});
  auto code = bench.wait_exit(60s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << bench.output();
  EXPECT_EQ(field(bench.output(), "scheduled"), 300) << "even arrivals: exactly rate x duration";
  EXPECT_EQ(field(bench.output(), "ok"), 300);
  EXPECT_EQ(field(bench.output(), "errors"), 0);
  EXPECT_NE(bench.output().find("p99.9"), std::string::npos);
}

TEST(BenchTest, FailedRequestsAreCountedAndTheExitCodeSaysSo) {
  auto sim = start_service({"sim", "--kinds", "1"});
  ChildProcess bench({"bench", "--target", "http://127.0.0.1:" + std::to_string(sim.port), "--path", "/nope",
                      "--viewers", "20", "--poll-seconds", "1", "--duration-s", "1", "--arrivals", "even"});
  auto code = bench.wait_exit(60s);
  ASSERT_TRUE(code);
  EXPECT_NE(*code, 0);
  EXPECT_EQ(field(bench.output(), "errors"), 20) << bench.output();
}

TEST(BenchTest, BadFlagsExitWithOneLine) {
  for (std::vector<std::string> args : {std::vector<std::string>{"bench", "--viewers", "0"},
                                        std::vector<std::string>{"bench", "--arrivals", "bursty"},
                                        std::vector<std::string>{"bench", "--target", "ftp://x"}}) {
    ChildProcess bench(args);
    auto code = bench.wait_exit(20s);
    ASSERT_TRUE(code);
    EXPECT_NE(*code, 0);
    EXPECT_EQ(std::count(bench.output().begin(), bench.output().end(), '\n'), 1) << bench.output();
  }
}

}  // namespace
}  // namespace micq::testing
