// The pure parts of micq bench: /proc parsing, the room mix, staleness
// bookkeeping, event rates and bodies, machine sizing and the report.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <map>

#include "event_stream.h"
#include "proc_stats.h"
#include "report.h"
#include "room_mix.h"
#include "staleness.h"

namespace micq::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(ProcStatsTest, ReadsUserPlusSystemTicksEvenWithParenthesesInTheName) {
  std::string stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 3 0 100 0 0";
  auto seconds = cpu_seconds_from_stat(stat, 100);
  ASSERT_TRUE(seconds);
  EXPECT_DOUBLE_EQ(*seconds, 2.0);
}

TEST(ProcStatsTest, RejectsTruncatedOrGarbledStat) {
  EXPECT_FALSE(cpu_seconds_from_stat("4242 (x) S 1 2 3", 100));
  EXPECT_FALSE(cpu_seconds_from_stat("no parenthesis here", 100));
  EXPECT_FALSE(cpu_seconds_from_stat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 1x 2 0", 100));
}

TEST(ProcStatsTest, OwnCpuTimeGrowsWhileBurningCpu) {
  auto start = cpu_seconds_of(getpid());
  ASSERT_TRUE(start);
  // Spin until the kernel's tick accounting moves (a few ms of CPU); bounded.
  volatile std::uint64_t sink = 0;
  auto deadline = Clock::now() + 10s;
  std::optional<double> now = start;
  while (Clock::now() < deadline && now && *now <= *start) {
    for (int i = 0; i < 1'000'000; ++i) sink = sink + static_cast<std::uint64_t>(i);
    now = cpu_seconds_of(getpid());
  }
  ASSERT_TRUE(now);
  EXPECT_GT(*now, *start);
  EXPECT_FALSE(cpu_seconds_of(-5));
}

TEST(ProcStatsTest, FindsTheProcessListeningOnAPort) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  auto pid = pid_listening_on(acceptor.local_endpoint().port());
  ASSERT_TRUE(pid);
  EXPECT_EQ(*pid, getpid());
  int closed_port = acceptor.local_endpoint().port();
  acceptor.close();
  EXPECT_FALSE(pid_listening_on(closed_port));
}

TEST(RoomMixTest, HotRoomFirstAndRatesFromViewers) {
  auto mix = RoomMix::hot_and_small("b", 900, 3, 100, 3.0);
  ASSERT_EQ(mix.rooms.size(), 4u);
  EXPECT_EQ(mix.rooms[0].id, "b-hot");
  EXPECT_EQ(mix.rooms[3].id, "b-small-3");
  EXPECT_EQ(mix.viewers(), 1200);
  EXPECT_DOUBLE_EQ(mix.rate_per_second(), 400.0);
}

TEST(RoomMixTest, EvenPickingGivesEachRoomItsShareEvenlySpaced) {
  auto mix = RoomMix::hot_and_small("b", 6, 3, 2, 1.0);  // weights 6,2,2,2
  RoomPicker picker(mix, /*random=*/false, 1);
  std::map<std::size_t, int> counts;
  std::vector<int> hot_positions;
  for (int i = 0; i < 120; ++i) {
    std::size_t room = picker.next();
    ++counts[room];
    if (room == 0) hot_positions.push_back(i);
  }
  EXPECT_EQ(counts[0], 60);
  EXPECT_EQ(counts[1], 20);
  EXPECT_EQ(counts[2], 20);
  EXPECT_EQ(counts[3], 20);
  // Smooth weighted round-robin: gaps stay within one pick of the ideal 2.
  for (std::size_t i = 1; i < hot_positions.size(); ++i)
    EXPECT_LE(hot_positions[i] - hot_positions[i - 1], 3);
}

TEST(RoomMixTest, RandomPickingFollowsTheWeights) {
  auto mix = RoomMix::hot_and_small("b", 3000, 10, 100, 3.0);  // hot share 0.75
  RoomPicker picker(mix, /*random=*/true, 42);
  int hot = 0;
  constexpr int kDraws = 40'000;
  for (int i = 0; i < kDraws; ++i) hot += picker.next() == 0;
  EXPECT_NEAR(static_cast<double>(hot) / kDraws, 0.75, 0.015);
}

TEST(StalenessTest, TimeFromAppliedToFirstAnswerShowingIt) {
  StalenessTracker tracker(2);
  auto t0 = Clock::now();
  tracker.seen(0, 4, t0);
  EXPECT_FALSE(tracker.waiting_on(0));
  tracker.applied(0, 5, t0 + 10ms);
  EXPECT_TRUE(tracker.waiting_on(0));
  tracker.seen(0, 4, t0 + 20ms);  // an older answer: still waiting
  EXPECT_EQ(tracker.all().count(), 0u);
  tracker.seen(0, 5, t0 + 35ms);
  ASSERT_EQ(tracker.all().count(), 1u);
  EXPECT_EQ(tracker.all().max(), 25'000u);
  EXPECT_EQ(tracker.hot_room().count(), 1u);
  EXPECT_FALSE(tracker.waiting_on(0));
  EXPECT_EQ(tracker.unseen(), 0u);
}

TEST(StalenessTest, OneAnswerResolvesEveryOlderEventAndRoomsAreSeparate) {
  StalenessTracker tracker(2);
  auto t0 = Clock::now();
  tracker.applied(1, 8, t0 + 5ms);  // answers out of order
  tracker.applied(1, 7, t0);
  tracker.applied(0, 3, t0);
  tracker.seen(1, 8, t0 + 10ms);
  EXPECT_EQ(tracker.all().count(), 2u);
  EXPECT_EQ(tracker.all().max(), 10'000u);
  EXPECT_EQ(tracker.all().min(), 5'000u);
  EXPECT_EQ(tracker.hot_room().count(), 0u);
  EXPECT_EQ(tracker.unseen(), 1u);  // room 0's event
}

TEST(StalenessTest, AnAnswerThatOvertookTheEventAnswerCountsAsZero) {
  StalenessTracker tracker(1);
  auto t0 = Clock::now();
  EXPECT_FALSE(tracker.waiting_on(0));
  tracker.sent(0);
  EXPECT_TRUE(tracker.waiting_on(0)) << "answers matter while an event is on its way";
  tracker.seen(0, 9, t0);
  tracker.applied(0, 9, t0 + 1ms);
  EXPECT_EQ(tracker.all().count(), 1u);
  EXPECT_EQ(tracker.all().max(), 0u);
  EXPECT_FALSE(tracker.waiting_on(0));
  tracker.sent(0);
  tracker.failed(0);
  EXPECT_FALSE(tracker.waiting_on(0)) << "a failed event is not waited for";
}

TEST(EventRatesTest, ParsesTypesAndRates) {
  auto rates = EventRates::parse("gift=2,chat=1.5,privilege=0.25");
  ASSERT_TRUE(rates) << rates.error();
  EXPECT_DOUBLE_EQ(rates->total(), 3.75);
  EXPECT_DOUBLE_EQ(rates->per_second[static_cast<int>(EventType::kChat)], 1.5);
  EXPECT_EQ(rates->to_string(), "gift=2,chat=1.5,privilege=0.25");
  EXPECT_DOUBLE_EQ(EventRates::parse("none")->total(), 0);
  EXPECT_EQ(EventRates::parse("none")->to_string(), "none");
  EXPECT_FALSE(EventRates::parse("dance=1"));
  EXPECT_FALSE(EventRates::parse("gift=-1"));
  EXPECT_FALSE(EventRates::parse("gift=1x"));
  EXPECT_FALSE(EventRates::parse("gift"));
}

TEST(EventBodiesTest, EventsAndSeedingAreValidJson) {
  EXPECT_EQ(event_body(EventType::kGift, "v3", 120), R"({"type":"gift","uid":"v3","value":120})");
  EXPECT_EQ(event_body(EventType::kPrivilege, "v3", 120), R"({"type":"privilege","uid":"v3"})");
  rapidjson::Document doc;
  doc.Parse(seeding_body(25, 1).c_str());
  ASSERT_FALSE(doc.HasParseError());
  ASSERT_EQ(doc["events"].Size(), 50u);
  for (const auto& event : doc["events"].GetArray()) {
    if (std::string(event["type"].GetString()) == "gift") {
      EXPECT_GE(event["value"].GetInt64(), 1);
      EXPECT_LE(event["value"].GetInt64(), 1'000'000'000);
    }
  }
  EXPECT_EQ(seeding_body(5, 3), seeding_body(5, 3)) << "deterministic for a seed";
}

TEST(SizingTest, ExtrapolatesLinearlyFromCostPerRequest) {
  auto target = TargetLoad::parse("1000x10000", 3.0);
  ASSERT_TRUE(target);
  EXPECT_NEAR(target->requests_per_second(), 3'333'333.3, 0.1);
  // 6 ms of CPU per 1,000 requests = 6 us per request = 20 cores at 3.33M/s.
  EXPECT_NEAR(*cores_needed(6.0, *target), 20.0, 1e-9);
  Sizing sizing{16, 0.5};  // 8 usable cores per machine
  EXPECT_EQ(*machines_needed(6.0, *target, sizing), 3.0);
  EXPECT_EQ(*machines_needed(0.0001, *target, sizing), 1.0) << "any cost needs a machine";
  EXPECT_EQ(*machines_needed(0.0, *target, sizing), 0.0);
  EXPECT_FALSE(machines_needed(std::nullopt, *target, sizing));
  EXPECT_FALSE(TargetLoad::parse("1000", 3.0));
  EXPECT_FALSE(TargetLoad::parse("0x10", 3.0));
  EXPECT_NEAR(*reduction_percent(200.0, 80.0), 60.0, 1e-9);
  EXPECT_FALSE(reduction_percent(0.0, 1.0));
}

StageResult sample_stage(const std::string& name, double serve_cpu, std::uint64_t batches) {
  StageResult s;
  s.name = name;
  s.strategy = "cached";
  s.json = "fast";
  s.page_size = 10;
  s.seconds = 10;
  s.scheduled = s.ok = 1000;
  s.p50_ms = 0.25;
  s.aggregator_batches = batches;
  s.downstream_requests = batches * 24;
  s.cpu_seconds[0] = serve_cpu;
  s.cpu_seconds[1] = 0.5;
  s.cpu_seconds[2] = 0.5;
  s.cpu_seconds[3] = 0.1;  // bench left unmeasured: null in JSON
  return s;
}

TEST(ReportTest, JsonCarriesEveryFieldAndComparisonsAgainstTheFirstStage) {
  Report report;
  report.scenario = "article";
  report.stages.push_back(sample_stage("before", 5.0, 1000));
  report.stages.push_back(sample_stage("after <&>", 0.5, 10));
  rapidjson::Document doc;
  doc.Parse(to_json(report).c_str());
  ASSERT_FALSE(doc.HasParseError());
  for (const char* key : {"scenario", "started_at", "machine", "room_mix", "events", "stack", "duration_s",
                          "warmup_s", "target", "stages", "comparisons"})
    EXPECT_TRUE(doc.HasMember(key)) << key;
  const auto& stage = doc["stages"][0];
  for (const char* key :
       {"name", "strategy", "json", "page_size", "seconds", "offered_per_second", "achieved_per_second",
        "requests", "latency_ms", "aggregator", "cpu_seconds", "cpu_ms_per_1k_requests", "events",
        "staleness_ms", "target_cores", "target_machines"})
    EXPECT_TRUE(stage.HasMember(key)) << key;
  EXPECT_DOUBLE_EQ(stage["cpu_ms_per_1k_requests"]["serve"].GetDouble(), 5000.0);
  EXPECT_DOUBLE_EQ(stage["cpu_seconds_per_1k_requests"]["serve"].GetDouble(), 5.0);
  EXPECT_TRUE(stage["cpu_ms_per_1k_requests"]["bench"].IsNull());
  EXPECT_DOUBLE_EQ(stage["latency_ms"]["p50"].GetDouble(), 0.25) << "fractions are not truncated";
  EXPECT_TRUE(stage["aggregator"]["batches"].IsUint64());
  EXPECT_DOUBLE_EQ(stage["aggregator"]["batches_per_1k_requests"].GetDouble(), 1000.0);
  ASSERT_EQ(doc["comparisons"].Size(), 1u);
  EXPECT_NEAR(doc["comparisons"][0]["aggregator_requests_reduction_pct"].GetDouble(), 99.0, 1e-9);
  EXPECT_NEAR(doc["comparisons"][0]["serve_cpu_per_request_reduction_pct"].GetDouble(), 90.0, 1e-9);

  std::string svg = to_svg(report);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("after &lt;&amp;&gt;"), std::string::npos) << "names are escaped";
  EXPECT_EQ(svg.find("after <&>"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

}  // namespace
}  // namespace micq::bench
