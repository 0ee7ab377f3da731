// Live rooms (SPEC §5): room events never make a caller wait, a hot key
// never waits, and privilege records are kept per user. Real redis-server,
// sim, aggregator and serve; the sim is slow (300 ms a call) wherever that
// proves the point: a caller that waited for a load would take >= 300 ms.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <boost/beast/http/field.hpp>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "http_client.h"
#include "micq/redis/testing/redis_server.h"
#include "process.h"
#include "serve_stack.h"

namespace micq::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
const Headers kAuth{{"Authorization", "Bearer s3cret"}};

// A GET that waited for a 300 ms load takes at least that long; one served
// from memory takes a few ms even under a sanitizer on a busy machine.
constexpr auto kWaited = 200ms;

class LiveRoomTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra, const std::string& sim_latency = "300") {
    ServeStack stack = start_serve_stack(redis_server.port(), "cached", std::move(extra), sim_latency);
    sim = std::move(stack.sim);
    aggregator = std::move(stack.aggregator);
    serve = std::move(stack.serve);
    ASSERT_GT(serve.port, 0);
  }

  Reply event(const std::string& body) { return post(serve.port, "/v1/rooms/r1/events", body, kAuth); }

  // u0..u<n-1> enter with distinct scores (u0 lowest).
  void seed(int users) { ASSERT_EQ(event(gifts_body(users)).result_int(), 200); }

  struct Timed {
    rapidjson::Document page;
    Clock::duration took;
  };
  Timed timed_list() {
    auto started = Clock::now();
    Reply reply = get(serve.port, "/v1/rooms/r1/mic-queue");
    Timed out{parse(reply.body()), Clock::now() - started};
    EXPECT_EQ(reply.result_int(), 200) << reply.body();
    return out;
  }

  // Polls the list every 50 ms for `duration`: the slowest answer, and
  // how many there were.
  std::pair<Clock::duration, int> poll_every_50ms_for(Clock::duration duration) {
    Clock::duration slowest{0};
    int polls = 0;
    auto began = Clock::now();
    for (auto next = began; Clock::now() - began < duration; next += 50ms) {
      std::this_thread::sleep_until(next);  // the polling rate, not a synchronisation
      slowest = std::max(slowest, timed_list().took);
      ++polls;
    }
    return {slowest, polls};
  }

  std::uint64_t batches() {
    return parse(get(aggregator.port, "/stats").body())["batches_total"].GetUint64();
  }

  double metric(const std::string& series) { return metric_value(serve.port, series); }

  redis::testing::RedisServer redis_server;
  Service sim, aggregator, serve;
};

TEST_F(LiveRoomTest, GiftsThatReorderThePageMakeNoGetWaitAndCostNoBatch) {
  start({"--ttl-ms", "60000"});
  seed(5);
  timed_list();  // the first load: the only wait
  std::uint64_t batches_before = batches();
  Clock::duration slowest{0};
  for (int i = 0; i < 20; ++i) {
    // Each gift puts another of the five on top.
    std::string uid = "u" + std::to_string(i % 5);
    ASSERT_EQ(
        event(R"({"type":"gift","uid":")" + uid + R"(","value":)" + std::to_string(1000 * (i + 1)) + "}")
            .result_int(),
        200);
    for (int k = 0; k < 3; ++k) slowest = std::max(slowest, timed_list().took);
  }
  // The last gift made u4 the top; it shows within the rebuild interval
  // plus one Redis read (bounded generously here).
  auto posted = Clock::now();
  std::string top;
  do {
    Timed answer = timed_list();
    slowest = std::max(slowest, answer.took);
    top = answer.page["items"][0]["uid"].GetString();
  } while (top != "u4" && Clock::now() - posted < 5s);
  EXPECT_EQ(top, "u4");
  EXPECT_LT(Clock::now() - posted, 500ms) << "50 ms interval + one Redis read, not a TTL";
  EXPECT_LT(slowest, kWaited) << "no GET waited for a rebuild";
  EXPECT_EQ(batches(), batches_before) << "nobody new on the page: the records were reused";
  EXPECT_EQ(metric("micq_load_waits_total"), 1) << "only the very first GET waited";
  EXPECT_GT(metric("micq_page_rebuilds_total"), 0);
}

TEST_F(LiveRoomTest, ANewUserOnThePageBringsOneBatchForThatUserAlone) {
  start({"--ttl-ms", "60000"});
  seed(3);
  timed_list();
  std::uint64_t batches_before = batches();
  double fetched_before = metric("micq_privilege_users_fetched_total");
  ASSERT_EQ(event(R"({"type":"gift","uid":"newcomer","value":100000})").result_int(), 200);
  auto posted = Clock::now();
  Clock::duration slowest{0};
  Timed answer;
  do {
    answer = timed_list();
    slowest = std::max(slowest, answer.took);
  } while (std::string(answer.page["items"][0]["uid"].GetString()) != "newcomer" &&
           Clock::now() - posted < 5s);
  const auto& top = answer.page["items"][0];
  ASSERT_STREQ(top["uid"].GetString(), "newcomer");
  EXPECT_STREQ(top["privileges"]["medal"]["uid"].GetString(), "newcomer") << "the newcomer's own records";
  EXPECT_STREQ(answer.page["items"][1]["privileges"]["medal"]["uid"].GetString(), "u2");
  EXPECT_LT(slowest, kWaited) << "callers kept the previous page while the newcomer's batch ran";
  EXPECT_EQ(batches(), batches_before + 1);
  EXPECT_EQ(metric("micq_privilege_users_fetched_total"), fetched_before + 1)
      << "the batch asked for one user";
  EXPECT_EQ(metric("micq_privilege_batches_total{reason=\"new_users\"}"), 2)
      << "the seed page's and this one";
}

TEST_F(LiveRoomTest, APrivilegeEventReReadsThatUsersRecordsWellWithinTheTtl) {
  start({"--ttl-ms", "20000"}, "1");
  seed(2);
  auto gen_of = [](const rapidjson::Document& page, const char* uid) {
    for (const auto& item : page["items"].GetArray()) {
      if (std::string(item["uid"].GetString()) == uid) return item["privileges"]["medal"]["gen"].GetInt();
    }
    return -1;
  };
  ASSERT_EQ(gen_of(timed_list().page, "u0"), 0);
  double fetched_before = metric("micq_privilege_users_fetched_total");
  ASSERT_EQ(post(sim.port, "/admin/users/u0/bump", "").result_int(), 200);
  ASSERT_EQ(event(R"({"type":"privilege","uid":"u0"})").result_int(), 200);
  auto posted = Clock::now();
  rapidjson::Document page;
  do {
    page = timed_list().page;
  } while (gen_of(page, "u0") != 1 && Clock::now() - posted < 10s);
  EXPECT_EQ(gen_of(page, "u0"), 1);
  EXPECT_LT(Clock::now() - posted, 2s) << "re-read at the next rebuild, not at the 20 s TTL";
  EXPECT_EQ(gen_of(page, "u1"), 0);
  EXPECT_EQ(metric("micq_privilege_users_fetched_total"), fetched_before + 1) << "only u0 was re-read";
  EXPECT_EQ(metric("micq_privilege_batches_total{reason=\"privilege_event\"}"), 1);
}

TEST_F(LiveRoomTest, AHotKeyPolledFasterThanItsLoadNeverWaitsOverManyTtls) {
  start({"--ttl-ms", "1000"});
  seed(3);
  timed_list();
  std::uint64_t batches_before = batches();
  // Every 50 ms for 6 TTLs, each load (a batch) taking 300 ms.
  auto [slowest, polls] = poll_every_50ms_for(6s);
  EXPECT_LT(slowest, kWaited) << polls << " polls";
  EXPECT_EQ(metric("micq_load_waits_total"), 1) << "only the very first GET waited";
  std::uint64_t refreshes = batches() - batches_before;
  // A 300 ms load refreshes 2 x 300 ms before a (jittered) expiry: about
  // every 300-400 ms, so 15-20 in 6 s; never one per poll (120).
  EXPECT_GE(refreshes, 6u) << "the records were re-read at least once per TTL";
  EXPECT_LE(refreshes, 30u) << "refresh ahead, not a reload per poll";
}

// With --l2 on a refresh ahead of expiry finds the page this instance
// shared itself: a page past half its life is built anew, or the cache
// would take the same old page again and callers would wait at expiry.
TEST_F(LiveRoomTest, AHotKeySharedThroughL2NeverWaitsOverManyTtls) {
  start({"--ttl-ms", "1000", "--l2", "on"});
  seed(3);
  timed_list();
  auto [slowest, polls] = poll_every_50ms_for(4s);
  EXPECT_LT(slowest, kWaited) << polls << " polls";
  EXPECT_EQ(metric("micq_load_waits_total"), 1) << "only the very first GET waited";
}

TEST_F(LiveRoomTest, ARebuildWithAnUnchangedBodyKeepsTheEtag) {
  start({"--ttl-ms", "200"}, "1");
  seed(3);
  Reply first = get(serve.port, "/v1/rooms/r1/mic-queue");
  std::string etag(first[boost::beast::http::field::etag]);
  ASSERT_FALSE(etag.empty());
  double loads_before = metric("micq_page_loads_started_total");
  auto began = Clock::now();
  while (metric("micq_page_loads_started_total") < loads_before + 3 && Clock::now() - began < 10s) {
    EXPECT_EQ(get(serve.port, "/v1/rooms/r1/mic-queue", {{"If-None-Match", etag}}).result_int(), 304);
  }
  EXPECT_GE(metric("micq_page_loads_started_total"), loads_before + 3) << "rebuilt by its TTL meanwhile";
  EXPECT_EQ(get(serve.port, "/v1/rooms/r1/mic-queue", {{"If-None-Match", etag}}).result_int(), 304)
      << "the same body has the same ETag: clients keep their 304s";
}

TEST_F(LiveRoomTest, RebuildIntervalZeroRebuildsAtEveryEvent) {
  start({"--ttl-ms", "60000", "--rebuild-interval-ms", "0"}, "1");
  seed(3);
  timed_list();
  double rebuilds_before = metric("micq_page_rebuilds_total");
  for (int i = 0; i < 10; ++i) {
    auto answer = parse(event(R"({"type":"chat","uid":"u0"})").body());
    int version = answer["version"].GetInt();
    auto posted = Clock::now();
    while (timed_list().page["version"].GetInt() < version && Clock::now() - posted < 5s) {
    }
  }
  EXPECT_EQ(metric("micq_page_rebuilds_total"), rebuilds_before + 10);
}

TEST_F(LiveRoomTest, ABurstOfEventsWithinOneIntervalCostsAtMostTwoRebuilds) {
  start({"--ttl-ms", "60000", "--rebuild-interval-ms", "2000"}, "1");
  seed(3);
  timed_list();
  double rebuilds_before = metric("micq_page_rebuilds_total");
  auto burst = Clock::now();
  int version = 0;
  for (int i = 0; i < 10; ++i)
    version = parse(event(R"({"type":"chat","uid":"u0"})").body())["version"].GetInt();
  ASSERT_LT(Clock::now() - burst, 2s) << "the burst fits in one interval";
  while (timed_list().page["version"].GetInt() < version && Clock::now() - burst < 10s) {
  }
  EXPECT_EQ(timed_list().page["version"].GetInt(), version) << "the last event shows, one interval later";
  EXPECT_EQ(metric("micq_page_rebuilds_total"), rebuilds_before + 2)
      << "one at the first event, one more for the rest";
}

TEST_F(LiveRoomTest, AnAggregatorDownDuringARebuildKeepsThePreviousPageWithinMaxStale) {
  start({"--ttl-ms", "300", "--max-stale-ms", "1500", "--upstream-timeout-ms", "300"}, "1");
  seed(2);
  ASSERT_STREQ(timed_list().page["items"][0]["uid"].GetString(), "u1");
  ASSERT_TRUE(aggregator.process->terminate());
  auto stopped = Clock::now();
  // A newcomer needs a batch: the rebuild fails and the previous page stays.
  ASSERT_EQ(event(R"({"type":"gift","uid":"newcomer","value":100000})").result_int(), 200);
  bool warned = false;
  Reply reply;
  for (;;) {
    reply = get(serve.port, "/v1/rooms/r1/mic-queue");
    if (reply.result_int() != 200 || Clock::now() - stopped > 10s) break;
    EXPECT_STREQ(parse(reply.body())["items"][0]["uid"].GetString(), "u1") << "the previous page";
    warned = warned || !reply[boost::beast::http::field::warning].empty();
  }
  EXPECT_TRUE(warned) << "past its TTL it was served with Warning: 110";
  EXPECT_EQ(reply.result_int(), 503);
  EXPECT_EQ(error_code_of(reply.body()), "aggregator_unavailable");
  EXPECT_GE(Clock::now() - stopped, 1500ms) << "not before max-stale ran out";
}

}  // namespace
}  // namespace micq::testing
