// The pure parts of micq bench: /proc parsing, the room mix, staleness
// bookkeeping, event rates and bodies, the hot room's crowd, serve's
// /metrics counters, machine sizing and the report.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "event_stream.h"
#include "hot_room.h"
#include "proc_stats.h"
#include "prometheus_text.h"
#include "report.h"
#include "room_mix.h"
#include "serve_counters.h"
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

// fleet: each instance read directly is an observer, and an event counts
// as seen by an instance only once that instance's answers show it.
TEST(StalenessTest, EveryObserverWaitsForEachEventOnItsOwn) {
  StalenessTracker tracker(1, 2);
  auto t0 = Clock::now();
  tracker.sent(0);
  EXPECT_TRUE(tracker.waiting_on(0, 0));
  EXPECT_TRUE(tracker.waiting_on(0, 1));
  tracker.applied(0, 3, t0);
  tracker.seen(0, 3, t0 + 5ms, 0);
  EXPECT_FALSE(tracker.waiting_on(0, 0));
  EXPECT_TRUE(tracker.waiting_on(0, 1)) << "observer 1 has not shown version 3 yet";
  EXPECT_EQ(tracker.unseen(), 1u);
  tracker.seen(0, 3, t0 + 40ms, 1);
  ASSERT_EQ(tracker.all().count(), 2u);
  EXPECT_EQ(tracker.all().min(), 5'000u);
  EXPECT_EQ(tracker.all().max(), 40'000u);
  EXPECT_EQ(tracker.unseen(), 0u);
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

TEST(HotRoomTest, TheEventMixIsSpecSixsHundredEventsPerSecond) {
  auto rates = EventRates::parse(kHotRoomEventRates);
  ASSERT_TRUE(rates) << rates.error();
  EXPECT_DOUBLE_EQ(rates->total(), 100.0);
  auto rate = [&](EventType type) { return rates->per_second[static_cast<std::size_t>(type)]; };
  EXPECT_DOUBLE_EQ(rate(EventType::kEnter), 25);
  EXPECT_DOUBLE_EQ(rate(EventType::kExit), 25);
  EXPECT_DOUBLE_EQ(rate(EventType::kChat), 30);
  EXPECT_DOUBLE_EQ(rate(EventType::kGift), 15);
  EXPECT_DOUBLE_EQ(rate(EventType::kShare), 3);
  EXPECT_DOUBLE_EQ(rate(EventType::kPrivilege), 2);
}

TEST(HotRoomTest, GiftsComeMostlyFromTheTenTopSupporters) {
  RoomMembers members({.initial_members = 10'000, .seed = 3});
  ASSERT_EQ(members.core().size(), 10u);
  std::map<std::string, int> gifts_by_uid;
  constexpr int kGifts = 20'000;
  for (int i = 0; i < kGifts; ++i) {
    RoomEvent gift = members.pick(EventType::kGift);
    ASSERT_EQ(gift.type, EventType::kGift);
    ASSERT_TRUE(members.is_member(gift.uid)) << gift.uid;
    ++gifts_by_uid[gift.uid];
  }
  // The ten most giving uids give ~80% (0.8 + 0.2 x 10/10000); the rest is
  // spread over the room.
  std::vector<int> counts;
  for (const auto& [uid, count] : gifts_by_uid) counts.push_back(count);
  std::sort(counts.rbegin(), counts.rend());
  int top_ten = 0;
  for (int i = 0; i < 10; ++i) top_ten += counts[static_cast<std::size_t>(i)];
  EXPECT_NEAR(static_cast<double>(top_ten) / kGifts, 0.8, 0.02);
  EXPECT_GT(gifts_by_uid.size(), 2000u) << "the other gifts come from random members";
  for (const auto& uid : members.core()) EXPECT_GT(gifts_by_uid[uid], kGifts * 0.8 / 10 * 0.8) << uid;
}

TEST(HotRoomTest, EntersBringNewUidsAndExitsRemoveMembers) {
  RoomMembers members({.initial_members = 50, .seed = 4});
  std::set<std::string> ever_members;
  for (int k = 0; k < 50; ++k) ever_members.insert(member_uid(k));
  for (int i = 0; i < 500; ++i) {
    RoomEvent enter = members.pick(EventType::kEnter);
    EXPECT_EQ(enter.type, EventType::kEnter);
    EXPECT_TRUE(ever_members.insert(enter.uid).second) << enter.uid << " was a member before";
    EXPECT_TRUE(members.is_member(enter.uid));
  }
  EXPECT_EQ(members.size(), 550u);
  for (int i = 0; i < 300; ++i) {
    RoomEvent exit = members.pick(EventType::kExit);
    EXPECT_EQ(exit.type, EventType::kExit);
    EXPECT_TRUE(ever_members.contains(exit.uid));
    EXPECT_FALSE(members.is_member(exit.uid)) << exit.uid;
  }
  EXPECT_EQ(members.size(), 250u);
  for (EventType type : {EventType::kChat, EventType::kShare, EventType::kPrivilege}) {
    RoomEvent event = members.pick(type);
    EXPECT_EQ(event.type, type);
    EXPECT_TRUE(members.is_member(event.uid)) << event.uid;
  }
}

TEST(HotRoomTest, ATopSupporterWhoLeavesIsReplacedByAnotherMember) {
  RoomMembers members({.initial_members = 15, .core_size = 10, .seed = 5});
  for (int i = 0; i < 5; ++i) {
    auto core_before = members.core();
    RoomEvent exit = members.pick(EventType::kExit);
    ASSERT_EQ(members.core().size(), 10u) << "while the room has more than 10 members";
    for (const auto& uid : members.core()) EXPECT_TRUE(members.is_member(uid)) << uid;
    std::set<std::string> distinct(members.core().begin(), members.core().end());
    EXPECT_EQ(distinct.size(), 10u);
    bool was_core = std::find(core_before.begin(), core_before.end(), exit.uid) != core_before.end();
    EXPECT_EQ(members.core() != core_before, was_core);
  }
  // Ten left: every exit now takes the core down with the room.
  for (int i = 0; i < 10; ++i) members.pick(EventType::kExit);
  EXPECT_EQ(members.size(), 0u);
  EXPECT_TRUE(members.core().empty());
}

TEST(HotRoomTest, AnEmptyRoomGetsAnEnterWhateverWasAsked) {
  RoomMembers members({.initial_members = 0, .seed = 6});
  RoomEvent first = members.pick(EventType::kExit);
  EXPECT_EQ(first.type, EventType::kEnter);
  EXPECT_TRUE(members.is_member(first.uid));
  RoomEvent second = members.pick(EventType::kGift);
  EXPECT_EQ(second.type, EventType::kGift) << "the room has a member now";
  EXPECT_EQ(second.uid, first.uid);
}

TEST(HotRoomTest, OpeningEventsEnterEveryMemberInRequestsOfAtMostAThousand) {
  RoomMembers members({.initial_members = 1200, .seed = 7});
  auto bodies = members.opening_events();
  ASSERT_EQ(bodies.size(), 3u);
  std::set<std::string> entered;
  std::int64_t lowest_core_gift = INT64_MAX, highest_other_gift = 0;
  for (const auto& body : bodies) {
    rapidjson::Document doc;
    doc.Parse(body.c_str());
    ASSERT_FALSE(doc.HasParseError());
    ASSERT_LE(doc["events"].Size(), 1000u);
    for (const auto& event : doc["events"].GetArray()) {
      std::string uid = event["uid"].GetString();
      if (std::string(event["type"].GetString()) == "enter") {
        EXPECT_TRUE(entered.insert(uid).second) << uid;
        continue;
      }
      std::int64_t value = event["value"].GetInt64();
      EXPECT_GE(value, 1);
      EXPECT_LE(value, 1'000'000'000);
      bool core = std::find(members.core().begin(), members.core().end(), uid) != members.core().end();
      if (core) lowest_core_gift = std::min(lowest_core_gift, value);
      if (!core) highest_other_gift = std::max(highest_other_gift, value);
    }
  }
  EXPECT_EQ(entered.size(), 1200u);
  EXPECT_GT(lowest_core_gift, highest_other_gift) << "the core opens as the top of the ranking";
  EXPECT_EQ(members.opening_events(), bodies) << "deterministic for a seed";
}

constexpr const char* kServeMetrics =
    "# HELP micq_load_waits_total Requests that waited for a load.\n"
    "# TYPE micq_load_waits_total counter\n"
    "micq_load_waits_total 12\n"
    "micq_load_waits_total_created 1.7e+09\n"
    "# TYPE micq_privilege_batches_total counter\n"
    "micq_privilege_batches_total{reason=\"new_users\"} 3\n"
    "micq_privilege_batches_total{reason=\"refresh\"} 40\r\n"
    "micq_requests_total{route=\"rooms_mic_queue\",status=\"200\"} 5e3 1700000000000\n"
    "micq_latency_seconds_bucket{le=\"+Inf\"} +Inf\n"
    "micq_broken 12abc\n";

TEST(PrometheusTextTest, ReadsTheValueOfExactlyTheSeriesAsked) {
  EXPECT_EQ(prometheus_value(kServeMetrics, "micq_load_waits_total"), 12.0);
  EXPECT_EQ(prometheus_value(kServeMetrics, "micq_load_waits_total_created"), 1.7e9);
  EXPECT_EQ(prometheus_value(kServeMetrics, R"(micq_privilege_batches_total{reason="new_users"})"), 3.0);
  EXPECT_EQ(prometheus_value(kServeMetrics, R"(micq_privilege_batches_total{reason="refresh"})"), 40.0)
      << "CRLF line ends";
  EXPECT_FALSE(prometheus_value(kServeMetrics, "micq_privilege_batches_total"))
      << "a name alone is not the name with labels";
  EXPECT_FALSE(prometheus_value(kServeMetrics, "micq_load_waits")) << "nor a shorter name";
  EXPECT_FALSE(prometheus_value(kServeMetrics, R"(micq_privilege_batches_total{reason="new)"));
}

TEST(PrometheusTextTest, LabelsMatchOnlyInTheGivenOrder) {
  EXPECT_EQ(prometheus_value(kServeMetrics, R"(micq_requests_total{route="rooms_mic_queue",status="200"})"),
            5000.0)
      << "a timestamp after the value is ignored";
  EXPECT_FALSE(
      prometheus_value(kServeMetrics, R"(micq_requests_total{status="200",route="rooms_mic_queue"})"));
}

TEST(PrometheusTextTest, AbsentOrUnreadableIsNullopt) {
  EXPECT_FALSE(prometheus_value(kServeMetrics, "micq_privilege_batches_total{reason=\"privilege_event\"}"));
  EXPECT_FALSE(prometheus_value(kServeMetrics, "micq_broken"));
  EXPECT_FALSE(prometheus_value("", "micq_load_waits_total"));
  EXPECT_FALSE(prometheus_value(kServeMetrics, ""));
  EXPECT_FALSE(prometheus_value("# TYPE micq_load_waits_total counter\n", "micq_load_waits_total"));
  EXPECT_EQ(prometheus_value(kServeMetrics, R"(micq_latency_seconds_bucket{le="+Inf"})"), INFINITY);
}

TEST(ServeCountersTest, BatchReasonsNotYetExportedCountZeroOnceAnyIs) {
  auto counters = serve_counters_from(kServeMetrics);
  EXPECT_EQ(counters.load_waits, 12.0);
  EXPECT_EQ(counters.new_user_batches, 3.0);
  EXPECT_EQ(counters.other_privilege_batches, 40.0) << "refresh, and no privilege_event series yet";
  auto with_events = serve_counters_from(std::string(kServeMetrics) +
                                         "micq_privilege_batches_total{reason=\"privilege_event\"} 2\n");
  EXPECT_EQ(with_events.other_privilege_batches, 42.0);
  auto plain = serve_counters_from("micq_load_waits_total 7\n");
  EXPECT_EQ(plain.load_waits, 7.0);
  EXPECT_FALSE(plain.new_user_batches) << "no per-user records: no batch reasons";
  EXPECT_FALSE(plain.other_privilege_batches);
  EXPECT_FALSE(serve_counters_from("").load_waits);
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

TEST(ReportTest, ServeCountersAndThe304ShareAreInTheJsonAndNullWhenUnmeasured) {
  Report report;
  report.scenario = "article";
  report.stages.push_back(sample_stage("measured", 1.0, 100));
  report.stages[0].not_modified = 250;
  report.stages[0].new_user_batches = 20;
  report.stages[0].other_privilege_batches = 10;
  report.stages[0].load_waits = 30;
  report.stages[0].load_waits_last_half = 0;
  report.stages.push_back(sample_stage("unmeasured", 1.0, 100));
  rapidjson::Document doc;
  doc.Parse(to_json(report).c_str());
  ASSERT_FALSE(doc.HasParseError());
  const auto& measured = doc["stages"][0];
  EXPECT_DOUBLE_EQ(measured["requests"]["not_modified_share"].GetDouble(), 0.25);
  EXPECT_EQ(measured["serve_metrics"]["new_user_batches"].GetUint64(), 20u);
  EXPECT_DOUBLE_EQ(measured["serve_metrics"]["new_user_batches_per_second"].GetDouble(), 2.0);
  EXPECT_DOUBLE_EQ(measured["serve_metrics"]["other_privilege_batches_per_second"].GetDouble(), 1.0);
  EXPECT_EQ(measured["serve_metrics"]["load_waits"].GetUint64(), 30u);
  EXPECT_EQ(measured["serve_metrics"]["load_waits_last_half"].GetUint64(), 0u);
  const auto& unmeasured = doc["stages"][1]["serve_metrics"];
  for (const char* key : {"new_user_batches", "new_user_batches_per_second", "other_privilege_batches",
                          "other_privilege_batches_per_second", "load_waits", "load_waits_last_half"})
    EXPECT_TRUE(unmeasured[key].IsNull()) << key;
  ASSERT_TRUE(doc.HasMember("events_vs_no_events"));
  EXPECT_TRUE(doc["events_vs_no_events"].IsNull()) << "not a run that compares events";
}

TEST(ReportTest, WhatEventsCostIsTheSecondStageOverTheFirst) {
  Report report;
  report.scenario = "hot-room";
  report.events_vs_no_events = true;
  report.stages.push_back(sample_stage("cached, no events", 1.0, 100));
  report.stages.push_back(sample_stage("cached, 100 events/s", 1.5, 110));
  report.stages[1].p50_ms = 0.5;
  report.stages[1].p99_ms = 2.0;
  report.stages[0].p99_ms = 1.0;
  report.stages.push_back(sample_stage("plain TTL, 100 events/s", 3.0, 1000));
  auto cost = event_cost(report.stages[0], report.stages[1]);
  EXPECT_NEAR(*cost.aggregator_batches_per_second, 1.1, 1e-9);
  EXPECT_NEAR(*cost.p50, 2.0, 1e-9);
  EXPECT_NEAR(*cost.p99, 2.0, 1e-9);
  EXPECT_NEAR(*cost.serve_cpu_per_thousand, 1.5, 1e-9);
  StageResult unmeasured = report.stages[0];
  unmeasured.aggregator_batches.reset();
  EXPECT_FALSE(event_cost(unmeasured, report.stages[1]).aggregator_batches_per_second);
  EXPECT_FALSE(ratio(0.0, 1.0));

  rapidjson::Document doc;
  doc.Parse(to_json(report).c_str());
  ASSERT_FALSE(doc.HasParseError());
  const auto& json_cost = doc["events_vs_no_events"];
  ASSERT_TRUE(json_cost.IsObject());
  EXPECT_STREQ(json_cost["stage"].GetString(), "cached, 100 events/s");
  EXPECT_STREQ(json_cost["against"].GetString(), "cached, no events");
  EXPECT_NEAR(json_cost["aggregator_batches_per_second_ratio"].GetDouble(), 1.1, 1e-9);
  EXPECT_NEAR(json_cost["latency_p50_ratio"].GetDouble(), 2.0, 1e-9);
  EXPECT_NEAR(json_cost["latency_p99_ratio"].GetDouble(), 2.0, 1e-9);
  EXPECT_NEAR(json_cost["serve_cpu_per_1k_requests_ratio"].GetDouble(), 1.5, 1e-9);

  char* text = nullptr;
  std::size_t size = 0;
  std::FILE* out = open_memstream(&text, &size);
  ASSERT_NE(out, nullptr);
  print_table(report, out);
  std::fclose(out);
  std::string table(text, size);
  std::free(text);
  EXPECT_NE(table.find("batches x1.10, p50 x2.00, p99 x2.00, serve CPU per 1,000 x1.50"), std::string::npos)
      << table;
  EXPECT_NE(table.find("for users new to the page per s"), std::string::npos);
  EXPECT_NE(table.find("serve load waits (window / last half)"), std::string::npos);
  EXPECT_NE(to_svg(report).find("Requests that waited for a load"), std::string::npos);
}

}  // namespace
}  // namespace micq::bench
