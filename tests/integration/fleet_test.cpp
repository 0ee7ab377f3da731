// Several serve instances on one Redis (SPEC §5 "across instances",
// freshness; §8 the changed channel): real redis-server, sim, aggregator
// and two `micq serve` processes. An event applied through one instance
// reaches the other's answers by notification, well within a TTL long
// enough (5 s) that only the notification can explain it; the fleet asks
// the aggregator once per change, not once per instance.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http_client.h"
#include "micq/process/ports.h"
#include "micq/redis/testing/redis_server.h"
#include "micq/stack/commands.h"
#include "micq/stack/haproxy_config.h"
#include "process.h"

namespace micq::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
const Headers kAuth{{"Authorization", "Bearer s3cret"}};

class FleetTest : public ::testing::Test {
 protected:
  // Each instance: `flags`, and --ttl-ms 5000 unless `ttl_ms` says otherwise.
  void start(std::vector<std::string> flags, int instances = 2, const std::string& ttl_ms = "5000") {
    sim = start_service({"sim", "--kinds", "3", "--latency-ms", "20", "--jitter-ms", "0"});
    aggregator = start_service(
        {"aggregator", "--downstream", base_url(sim.port), "--kinds", "3", "--timeout-ms", "2000"});
    for (int i = 0; i < instances; ++i) {
      std::vector<std::string> serve_flags{"--ttl-ms", ttl_ms, "--upstream-timeout-ms", "2000"};
      serve_flags.insert(serve_flags.end(), flags.begin(), flags.end());
      serves.push_back(
          start_service(stack::serve_command({.redis = "127.0.0.1:" + std::to_string(redis.port()),
                                              .aggregator_port = aggregator.port,
                                              .events_token = "s3cret"},
                                             serve_flags)));
      ASSERT_GT(serves.back().port, 0);
    }
  }

  int port(int instance) const { return serves[static_cast<std::size_t>(instance)].port; }

  Reply event(int instance, const std::string& body) {
    return post(port(instance), "/v1/rooms/fr/events", body, kAuth);
  }

  // The list as instance `i` answers it now.
  rapidjson::Document list(int instance) {
    Reply reply = get(port(instance), "/v1/rooms/fr/mic-queue");
    EXPECT_EQ(reply.result_int(), 200) << reply.body();
    return parse(reply.body());
  }

  // Asks instance `i` until `holds` is true of its answer or `limit` passes
  // (an external process changing state: observed, with a generous bound).
  // Returns how long it took, or nullopt.
  template <class Holds>
  std::optional<Clock::duration> until(int instance, Holds holds, Clock::duration limit) {
    auto started = Clock::now();
    while (Clock::now() - started < limit) {
      rapidjson::Document page = list(instance);
      if (page.IsObject() && holds(page)) return Clock::now() - started;
      std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
  }

  static bool top_is(const rapidjson::Document& page, const std::string& uid) {
    return page["items"].Size() > 0 && page["items"][0]["uid"].GetString() == uid;
  }

  // Waits (bounded) until instance `i` says its notifications are
  // subscribed: from then on an event reaches it by message.
  bool subscribed(int instance) {
    auto deadline = Clock::now() + 10s;
    while (Clock::now() < deadline) {
      if (get(port(instance), "/readyz").body().find(R"("notifications":"subscribed")") != std::string::npos)
        return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  long batches() {
    auto stats = parse(get(aggregator.port, "/stats").body());
    return stats.IsObject() ? static_cast<long>(stats["batches_total"].GetInt64()) : -1;
  }

  redis::testing::RedisServer redis;
  Service sim, aggregator;
  std::vector<Service> serves;
};

TEST_F(FleetTest, AnEventOnOneInstanceIsInTheOthersAnswersWellWithinTheTtl) {
  start({});
  ASSERT_EQ(
      event(0, R"({"events":[{"type":"gift","uid":"a","value":10},{"type":"gift","uid":"b","value":20}]})")
          .result_int(),
      200);
  ASSERT_TRUE(top_is(list(1), "b"));  // instance 1 holds the page now, for 5 s
  ASSERT_TRUE(subscribed(1));
  ASSERT_EQ(event(0, R"({"type":"gift","uid":"c","value":100})").result_int(), 200);
  auto took = until(
      1, [](const auto& page) { return top_is(page, "c"); }, 2500ms);
  ASSERT_TRUE(took) << "instance 1 still answers the old list halfway through its TTL";
  EXPECT_LT(*took, 2500ms);
  EXPECT_GE(metric_value(port(1), "micq_notification_messages_total"), 1.0);
  auto ready = parse(get(port(1), "/readyz").body());
  ASSERT_TRUE(ready.IsObject());
  EXPECT_STREQ(ready["notifications"].GetString(), "subscribed");
}

// The SPEC §8 channel itself, read as any other program would (redis-cli).
TEST_F(FleetTest, AnAppliedRequestPublishesTheRoomsNewVersionOnItsChangedChannel) {
  start({}, 1);
  ChildProcess listener(Program{"redis-cli"},
                        {"-p", std::to_string(redis.port()), "ssubscribe", "micq:{fr}:changed"});
  auto line = [&] { return listener.read_line().value_or(""); };
  // The subscription's confirmation, then the events.
  EXPECT_EQ(line(), "ssubscribe");
  EXPECT_EQ(line(), "micq:{fr}:changed");
  EXPECT_EQ(line(), "1");
  Reply applied = event(0, R"({"events":[{"type":"enter","uid":"a"},{"type":"chat","uid":"a"}]})");
  ASSERT_EQ(applied.result_int(), 200);
  EXPECT_EQ(line(), "smessage");
  EXPECT_EQ(line(), "micq:{fr}:changed");
  EXPECT_EQ(line(), std::to_string(parse(applied.body())["version"].GetInt64()));
  // A replay applies nothing and publishes nothing; the next request does.
  Headers keyed = kAuth;
  keyed.emplace_back("Idempotency-Key", "k1");
  ASSERT_EQ(post(port(0), "/v1/rooms/fr/events", R"({"type":"chat","uid":"a"})", keyed).result_int(), 200);
  ASSERT_EQ(post(port(0), "/v1/rooms/fr/events", R"({"type":"chat","uid":"a"})", keyed).result_int(), 200);
  ASSERT_EQ(event(0, R"({"type":"chat","uid":"a"})").result_int(), 200);
  std::vector<std::string> versions;
  for (int i = 0; i < 6; ++i) {
    std::string text = line();
    if (i % 3 == 2) versions.push_back(text);
  }
  EXPECT_EQ(versions, (std::vector<std::string>{"2", "3"}));
  // Redis drops the listener (and serve's own subscriber, which comes back).
  redis_cli(redis.port(), "client kill type pubsub");
}

// Three instances sharing through Redis (--l2 on).
TEST_F(FleetTest, TheFleetAsksTheAggregatorOncePerChangeNotOncePerInstance) {
  constexpr int kInstances = 3;
  start({"--l2", "on"}, kInstances);
  ASSERT_EQ(
      event(0, R"({"events":[{"type":"gift","uid":"a","value":10},{"type":"gift","uid":"b","value":20}]})")
          .result_int(),
      200);
  ASSERT_TRUE(top_is(list(0), "b"));
  EXPECT_EQ(batches(), 1) << "instance 0 fetched the page's users";
  for (int i = 1; i < kInstances; ++i) {
    ASSERT_TRUE(top_is(list(i), "b"));
    EXPECT_EQ(batches(), 1) << "instance " << i << " took them from the fleet";
  }
  for (int i = 0; i < kInstances; ++i) ASSERT_TRUE(subscribed(i)) << "instance " << i;

  // A user new to the page: every instance rebuilds, one fetches.
  ASSERT_EQ(event(0, R"({"type":"gift","uid":"c","value":100})").result_int(), 200);
  for (int i = 0; i < kInstances; ++i) {
    ASSERT_TRUE(until(
        i, [](const auto& page) { return top_is(page, "c"); }, 2500ms))
        << "instance " << i;
  }
  EXPECT_EQ(batches(), 2);

  // A privilege change, applied through instance 1: every instance
  // re-reads c's records; one batch for all of them.
  ASSERT_EQ(post(sim.port, "/admin/users/c/bump", "").result_int(), 200);
  ASSERT_EQ(event(1, R"({"type":"privilege","uid":"c"})").result_int(), 200);
  auto c_bumped = [](const auto& page) {
    return top_is(page, "c") && page["items"][0]["privileges"]["avatar_frame"]["gen"].GetInt() == 1;
  };
  for (int i = 0; i < kInstances; ++i) ASSERT_TRUE(until(i, c_bumped, 2500ms)) << "instance " << i;
  EXPECT_EQ(batches(), 3);
}

// Notifications refused (the ACL forbids SSUBSCRIBE): the instance says so
// in /readyz and /metrics, stays ready, and the TTL bounds staleness.
TEST_F(FleetTest, WithoutNotificationsTheTtlStillBoundsStalenessAndTheLossIsShown) {
  ASSERT_NE(redis_cli(redis.port(), "acl setuser default -ssubscribe").find("OK"), std::string::npos);
  start({}, 2, "1000");
  ASSERT_EQ(event(0, R"({"type":"gift","uid":"a","value":10})").result_int(), 200);
  ASSERT_TRUE(top_is(list(1), "a"));
  auto ready = get(port(1), "/readyz");
  EXPECT_EQ(ready.result_int(), 200) << "lost notifications do not make an instance unready";
  EXPECT_NE(ready.body().find(R"("notifications":"lost for )"), std::string::npos) << ready.body();
  EXPECT_EQ(metric_value(port(1), "micq_notification_channels{state=\"subscribed\"}"), 0.0);
  ASSERT_EQ(event(0, R"({"type":"gift","uid":"b","value":100})").result_int(), 200);
  auto took = until(
      1, [](const auto& page) { return top_is(page, "b"); }, 3000ms);
  ASSERT_TRUE(took) << "the TTL (1 s) did not bring the change";
  EXPECT_GT(*took, 100ms) << "too soon for the TTL: something else carried the change";

  // Allowed again: the retry subscribes.
  ASSERT_NE(redis_cli(redis.port(), "acl setuser default +ssubscribe").find("OK"), std::string::npos);
  EXPECT_TRUE(subscribed(1)) << get(port(1), "/readyz").body();
}

// Redis restarts (its data gone): the subscriptions are lost, shown, and
// come back on their own; the next event reaches the other instance by
// notification again.
TEST_F(FleetTest, NotificationsComeBackAfterRedisRestarts) {
  start({});
  ASSERT_EQ(event(0, R"({"type":"gift","uid":"a","value":10})").result_int(), 200);
  ASSERT_TRUE(top_is(list(1), "a"));
  ASSERT_TRUE(subscribed(1));
  redis.restart();
  auto lost_by = Clock::now() + 10s;
  while (Clock::now() < lost_by && metric_value(port(1), "micq_notification_subscriptions_lost_total") < 2.0)
    std::this_thread::sleep_for(5ms);
  EXPECT_GE(metric_value(port(1), "micq_notification_subscriptions_lost_total"), 2.0) << "both channels lost";
  ASSERT_TRUE(subscribed(1)) << get(port(1), "/readyz").body();
  // Instance 0's own connection comes back after its back-off.
  auto deadline = Clock::now() + 10s;
  int status = 0;
  while (Clock::now() < deadline &&
         (status = event(0, R"({"type":"gift","uid":"b","value":100})").result_int()) != 200) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(status, 200);
  EXPECT_TRUE(until(
      1, [](const auto& page) { return top_is(page, "b"); }, 2500ms))
      << "no notification after the restart (TTL 5 s)";
}

// haproxy in front (the configuration micq writes): one instance killed
// mid-run costs the clients nothing but what was in flight on it (GETs
// that provably did not run are retried on the other), and the other
// answers from then on.
TEST_F(FleetTest, AnInstanceKilledBehindHaproxyCostsNoErrorBeyondItsRequestsInFlight) {
  if (!std::filesystem::exists("/usr/sbin/haproxy"))
    GTEST_SKIP() << "haproxy not installed (scripts/test installs it)";
  start({"--l2", "on"});
  ASSERT_EQ(event(0, R"({"type":"gift","uid":"a","value":10})").result_int(), 200);
  const int front = process::free_loopback_port().value();
  const std::string config_path =
      std::filesystem::temp_directory_path() / ("micq-fleet-haproxy-" + std::to_string(::getpid()) + ".cfg");
  {
    std::ofstream config(config_path);
    config << stack::haproxy_config("127.0.0.1:" + std::to_string(front), {port(0), port(1)}, 1000);
  }
  ChildProcess haproxy(Program{"/usr/sbin/haproxy"}, {"-db", "-f", config_path});
  // An answer, or 0 when the connection failed.
  auto status_of = [](int at, const std::string& target, Reply* out = nullptr) -> int {
    try {
      Reply reply = get(at, target);
      if (out) *out = reply;
      return reply.result_int();
    } catch (const std::exception&) {
      return 0;
    }
  };
  // haproxy says nothing once it listens in the foreground: ask, bounded.
  auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline && status_of(front, "/healthz") != 200) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(status_of(front, "/healthz"), 200) << haproxy.output();

  constexpr int kClients = 4;
  std::atomic<int> answers{0}, errors{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::set<std::string> answered_by_after_kill;
  std::atomic<bool> killed{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      while (!stop) {
        Reply reply;
        // Sent after the kill (one sent before may be answered by the
        // killed instance just before it dies).
        const bool sent_after_kill = killed;
        int status = status_of(front, "/v1/rooms/fr/mic-queue", &reply);
        ++answers;
        if (status != 200) ++errors;
        if (sent_after_kill && status == 200) {
          std::lock_guard lock(mu);
          answered_by_after_kill.insert(std::string(reply["X-Micq-Instance"]));
        }
      }
    });
  }
  auto wait_answers = [&](int count) {
    auto until = Clock::now() + 20s;
    while (answers < count && Clock::now() < until) std::this_thread::sleep_for(5ms);
  };
  wait_answers(400);
  serves[1].process->signal(SIGKILL);
  serves[1].process->wait_exit();
  killed = true;
  // Two failed health checks (~1 s) take it out of the rotation: haproxy
  // says so on its output. Then the clients go on a while.
  EXPECT_TRUE(haproxy.wait_for_line("serve/serve1 is DOWN", 10s)) << haproxy.output();
  const int at_down = answers;
  wait_answers(at_down + 500);
  stop = true;
  for (auto& client : clients) client.join();
  EXPECT_GE(answers.load(), at_down + 500);
  EXPECT_LE(errors.load(), kClients) << "more errors than requests in flight on the killed instance";
  std::lock_guard lock(mu);
  EXPECT_EQ(answered_by_after_kill, (std::set<std::string>{"127.0.0.1:" + std::to_string(port(0))}));
  std::filesystem::remove(config_path);
}

}  // namespace
}  // namespace micq::testing
