// micq up (SPEC §7): the whole stack from one command, and nothing left
// behind after Ctrl-C.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "http_client.h"
#include "process.h"

namespace micq::testing {
namespace {

using namespace std::chrono_literals;

TEST(UpTest, StartsTheStackServesTheDemoAndStopsEverythingOnCtrlC) {
  ChildProcess up({"up", "--listen", "127.0.0.1:0", "--room", "lobby", "--events-per-second", "20"});
  auto ready = up.wait_for_line("micq up: up. Open ", 60s);
  ASSERT_TRUE(ready) << up.output();
  std::smatch match;
  ASSERT_TRUE(std::regex_search(*ready, match, std::regex(R"(127\.0\.0\.1:(\d+)/demo\?room=lobby)")))
      << *ready;
  int port = std::stoi(match[1]);

  auto page = get(port, "/demo?room=lobby");
  EXPECT_EQ(page.result_int(), 200);
  EXPECT_NE(page.body().find("mic-queue"), std::string::npos);
  EXPECT_EQ(page[boost::beast::http::field::content_type], "text/html; charset=utf-8");

  // The demo stream fills the room.
  rapidjson::Document list;
  auto started = std::chrono::steady_clock::now();
  do {
    list.Parse(get(port, "/v1/rooms/lobby/mic-queue").body().c_str());
  } while ((!list.IsObject() || list["total"].GetInt() == 0) &&
           std::chrono::steady_clock::now() - started < 20s);
  ASSERT_TRUE(list.IsObject());
  EXPECT_GT(list["total"].GetInt(), 0);
  EXPECT_GT(list["items"].Size(), 0u);
  EXPECT_EQ(list["degraded_kinds"].Size(), 0u);

  std::vector<int> children = children_of(up.pid());
  EXPECT_EQ(children.size(), 4u) << "redis, sim, aggregator, serve";

  up.signal(SIGINT);
  auto code = up.wait_exit(30s);
  ASSERT_TRUE(code) << up.output();
  EXPECT_EQ(*code, 0) << up.output();
  EXPECT_NE(up.output().find("everything stopped"), std::string::npos);
  // Children's output is still read (and echoed) after they are up: serve's
  // last words come after Ctrl-C.
  EXPECT_NE(up.output().find("micq serve stopped"), std::string::npos) << up.output();
  for (int pid : children) EXPECT_FALSE(alive(pid)) << "child " << pid << " outlived up";
  EXPECT_THROW(get(port, "/healthz"), std::exception);
}

// SPEC §7 --viewers: a simulated audience polls the room, so serve shows
// coalescing at work (hits, not builds) with nobody else asking.
TEST(UpTest, TheSimulatedAudiencePollsTheRoomAndIsServedFromTheCache) {
  ChildProcess up({"up", "--listen", "127.0.0.1:0", "--room", "crowd", "--viewers", "600"});
  auto ready = up.wait_for_line("micq up: up. Open ", 60s);
  ASSERT_TRUE(ready) << up.output();
  EXPECT_TRUE(up.wait_for_line("600 simulated viewers", 5s)) << up.output();
  std::smatch match;
  ASSERT_TRUE(std::regex_search(*ready, match, std::regex(R"(127\.0\.0\.1:(\d+)/demo)"))) << *ready;
  int port = std::stoi(match[1]);
  // 600 viewers every 3 s: 200 requests a second, none of them the test's.
  auto started = std::chrono::steady_clock::now();
  while (metric_value(port, "micq_cache_hits_total") < 200 &&
         std::chrono::steady_clock::now() - started < 30s) {
  }
  double hits = metric_value(port, "micq_cache_hits_total");
  double builds = metric_value(port, "micq_page_loads_started_total");
  EXPECT_GE(hits, 200) << "the audience's polls are answered from the cache";
  EXPECT_LT(builds, hits / 5) << "far fewer page builds than requests";
  up.signal(SIGINT);
  auto code = up.wait_exit(30s);
  ASSERT_TRUE(code) << up.output();
  EXPECT_EQ(*code, 0) << up.output();
}

// issue 14: `micq up --prometheus` runs Debian's Prometheus on the stack,
// with deploy/rules.yml: the batches-per-request rule gets a value.
TEST(UpTest, PrometheusScrapesTheStackAndEvaluatesTheRules) {
  if (!std::filesystem::exists("/usr/bin/prometheus"))
    GTEST_SKIP() << "prometheus not installed (scripts/test installs it)";
  ChildProcess up({"up", "--listen", "127.0.0.1:0", "--viewers", "300", "--prometheus"});
  auto line = up.wait_for_line("Prometheus scrapes the stack", 90s);
  ASSERT_TRUE(line) << up.output();
  std::smatch match;
  ASSERT_TRUE(std::regex_search(*line, match, std::regex(R"(127\.0\.0\.1:(\d+)/graph)"))) << *line;
  int port = std::stoi(match[1]);
  std::string answer;
  auto started = std::chrono::steady_clock::now();
  do {
    answer = get(port, "/api/v1/query?query=fleet:micq_batches_per_request:ratio_rate1m").body();
  } while (answer.find("\"value\"") == std::string::npos && std::chrono::steady_clock::now() - started < 60s);
  rapidjson::Document doc = parse(answer);
  ASSERT_TRUE(doc.IsObject() && doc["data"]["result"].Size() == 1) << answer;
  double ratio = std::stod(doc["data"]["result"][0]["value"][1].GetString());
  EXPECT_GT(ratio, 0);
  EXPECT_LT(ratio, 0.2) << "far fewer batches than requests";
  up.signal(SIGINT);
  auto code = up.wait_exit(30s);
  ASSERT_TRUE(code) << up.output();
  EXPECT_EQ(*code, 0) << up.output();
}

// SPEC §7 --instances: N serve instances behind haproxy on the printed
// port; round robin reaches every one of them (each answer names its
// instance in X-Micq-Instance), and Ctrl-C stops haproxy with the rest.
TEST(UpTest, InstancesAnswerInTurnBehindHaproxyOnThePrintedPort) {
  if (!std::filesystem::exists("/usr/sbin/haproxy"))
    GTEST_SKIP() << "haproxy not installed (scripts/test installs it)";
  ChildProcess up({"up", "--listen", "127.0.0.1:0", "--room", "fleet", "--instances", "2", "--viewers", "0"});
  auto ready = up.wait_for_line("micq up: up. Open ", 60s);
  ASSERT_TRUE(ready) << up.output();
  std::smatch match;
  ASSERT_TRUE(std::regex_search(*ready, match, std::regex(R"(127\.0\.0\.1:(\d+)/demo\?room=fleet)")))
      << *ready;
  int port = std::stoi(match[1]);
  std::set<std::string> instances;
  for (int i = 0; i < 20 && instances.size() < 2; ++i) {
    auto answer = get(port, "/v1/rooms/fleet/mic-queue");
    ASSERT_EQ(answer.result_int(), 200) << answer.body();
    auto instance = answer["X-Micq-Instance"];
    EXPECT_FALSE(instance.empty()) << "a page answer names its instance";
    instances.emplace(instance);
  }
  EXPECT_EQ(instances.size(), 2u) << "round robin reaches both instances";
  // The page behind haproxy shows who answered.
  EXPECT_NE(get(port, "/demo?room=fleet").body().find("X-Micq-Instance"), std::string::npos);

  std::vector<int> children = children_of(up.pid());
  EXPECT_EQ(children.size(), 6u) << "redis, sim, aggregator, two serves, haproxy";
  up.signal(SIGINT);
  auto code = up.wait_exit(30s);
  ASSERT_TRUE(code) << up.output();
  EXPECT_EQ(*code, 0) << up.output();
  for (int pid : children) EXPECT_FALSE(alive(pid)) << "child " << pid << " outlived up";
  EXPECT_THROW(get(port, "/healthz"), std::exception);
}

TEST(UpTest, BadViewersExitWithOneLine) {
  ChildProcess up({"up", "--viewers", "-1"});
  auto code = up.wait_exit(10s);
  ASSERT_TRUE(code);
  EXPECT_NE(*code, 0);
  EXPECT_NE(up.output().find("--viewers must be 0..100000"), std::string::npos) << up.output();
}

TEST(UpTest, CtrlCWhileStartingStopsEverythingStarted) {
  ChildProcess up({"up", "--listen", "127.0.0.1:0"});
  // The sim is up; the aggregator and serve are still to start.
  auto sim_line = up.wait_for_line("[sim]", 60s);
  ASSERT_TRUE(sim_line) << up.output();
  std::vector<int> children = children_of(up.pid());  // redis and sim at least
  EXPECT_GE(children.size(), 2u);
  up.signal(SIGINT);
  // Before the stop was kept as a flag, a signal during the start cancelled
  // no wait and up hung here until killed.
  auto code = up.wait_exit(30s);
  ASSERT_TRUE(code) << up.output();
  EXPECT_EQ(*code, 0) << up.output();
  EXPECT_NE(up.output().find("stopping (signal)"), std::string::npos) << up.output();
  EXPECT_NE(up.output().find("everything stopped"), std::string::npos) << up.output();
  for (int pid : children) EXPECT_FALSE(alive(pid)) << "child " << pid << " outlived up";
}

TEST(UpTest, AChildThatDiesStopsTheRestAndUpSaysWhich) {
  ChildProcess up({"up", "--listen", "127.0.0.1:0"});
  auto ready = up.wait_for_line("micq up: up. Open ", 60s);
  ASSERT_TRUE(ready) << up.output();
  auto sim_line = up.wait_for_line("[sim]", 1s);  // the sim's own start-up line, echoed
  // Kill the sim from outside; up must notice and stop the rest.
  std::vector<int> children = children_of(up.pid());
  int killed = 0;
  for (int pid : children) {
    std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
    std::string text((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    if (text.find(std::string("sim") + '\0' + "--listen") != std::string::npos)
      killed += ::kill(pid, SIGKILL) == 0;
  }
  ASSERT_EQ(killed, 1);
  auto code = up.wait_exit(30s);
  ASSERT_TRUE(code) << up.output();
  EXPECT_NE(*code, 0);
  EXPECT_NE(up.output().find("sim exited"), std::string::npos) << up.output();
  EXPECT_NE(up.output().find("everything stopped"), std::string::npos);
  for (int pid : children) EXPECT_FALSE(alive(pid)) << "child " << pid << " outlived up";
  (void)sim_line;
}

}  // namespace
}  // namespace micq::testing
