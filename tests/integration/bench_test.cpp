// micq bench against real processes: a run against a given server sends
// what its schedule says and writes its results; the article scenario
// starts its own stack, runs its three stages and reports numbers that
// agree with each other; the hot-room scenario runs its four stages and
// reports what events cost; the fleet scenario measures each fleet size
// behind haproxy on a Redis Cluster; Ctrl-C leaves nothing running.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

#include "http_client.h"
#include "process.h"

namespace micq::testing {
namespace {

using namespace std::chrono_literals;

// "a b c" -> {"a", "b", "c"}: long command lines stay readable.
std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

class BenchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string path = (std::filesystem::temp_directory_path() / "micq-bench-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(path.data()), nullptr);
    out_dir_ = path;
  }
  void TearDown() override { std::filesystem::remove_all(out_dir_); }

  // The one file with extension `ext` bench wrote, read whole.
  std::string result_file(const std::string& ext) {
    std::vector<std::filesystem::path> found;
    for (const auto& entry : std::filesystem::directory_iterator(out_dir_))
      if (entry.path().extension() == ext) found.push_back(entry.path());
    if (found.size() != 1) return "";
    std::ifstream in(found[0]);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  // What a bench run left: its exit code, its output, and the JSON result
  // it wrote.
  struct Finished {
    int code = -1;
    std::string output;
    rapidjson::Document doc;
  };
  // Runs `micq bench <args> --out-dir <the test's directory>` to its end
  // (within `limit`); fails the test unless it ends and writes one JSON
  // result object.
  void run_bench(std::vector<std::string> args, std::chrono::seconds limit, Finished& out) {
    args.insert(args.end(), {"--out-dir", out_dir_});
    ChildProcess bench(args);
    std::optional<int> code = bench.wait_exit(limit);
    out.output = bench.output();
    ASSERT_TRUE(code) << out.output;
    out.code = *code;
    out.doc = parse(result_file(".json"));
    ASSERT_TRUE(out.doc.IsObject()) << out.output;
  }

  std::string out_dir_;
};

TEST_F(BenchTest, RunAgainstAGivenServerSendsOnScheduleAndWritesResults) {
  auto sim = start_service({"sim", "--kinds", "1"});
  Finished run;
  ASSERT_NO_FATAL_FAILURE(
      run_bench({"bench", "--serve", "http://127.0.0.1:" + std::to_string(sim.port), "--path", "/healthz",
                 "--hot-viewers", "300", "--rooms", "0", "--poll-seconds", "1", "--duration-s", "1",
                 "--warmup-s", "0", "--arrivals", "even"},
                60s, run));
  EXPECT_EQ(run.code, 0) << run.output;
  const rapidjson::Document& doc = run.doc;
  EXPECT_STREQ(doc["scenario"].GetString(), "target");
  ASSERT_EQ(doc["stages"].Size(), 1u);
  const auto& stage = doc["stages"][0];
  EXPECT_EQ(stage["requests"]["scheduled"].GetUint64(), 300u) << "even arrivals: exactly rate x duration";
  EXPECT_EQ(stage["requests"]["ok"].GetUint64(), 300u);
  EXPECT_EQ(stage["requests"]["errors"].GetUint64(), 0u);
  EXPECT_GT(stage["latency_ms"]["p99_9"].GetDouble(), 0);
  // The server's CPU is found by the port it listens on.
  EXPECT_TRUE(stage["cpu_ms_per_1k_requests"]["serve"].IsNumber());
  EXPECT_TRUE(stage["cpu_ms_per_1k_requests"]["aggregator"].IsNull()) << "not given, not measured";
  EXPECT_NE(run.output.find("client requests"), std::string::npos);
  EXPECT_NE(result_file(".svg").find("</svg>"), std::string::npos);
}

TEST_F(BenchTest, FailedRequestsAreCountedAndTheExitCodeSaysSo) {
  auto sim = start_service({"sim", "--kinds", "1"});
  Finished run;
  ASSERT_NO_FATAL_FAILURE(
      run_bench({"bench", "--serve", "http://127.0.0.1:" + std::to_string(sim.port), "--path", "/nope",
                 "--hot-viewers", "20", "--rooms", "0", "--poll-seconds", "1", "--duration-s", "1",
                 "--warmup-s", "0", "--arrivals", "even"},
                60s, run));
  EXPECT_NE(run.code, 0);
  const rapidjson::Document& doc = run.doc;
  EXPECT_EQ(doc["stages"][0]["requests"]["errors"].GetUint64(), 20u);
  EXPECT_EQ(doc["stages"][0]["requests"]["errors_by_kind"]["HTTP 404"].GetUint64(), 20u);
  EXPECT_NE(run.output.find("HTTP 404 x20"), std::string::npos) << run.output;
}

TEST_F(BenchTest, BadFlagsExitWithOneLineNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--hot-viewers=0"}, "micq bench: --hot-viewers must be 1..10000000"},
      {{"--arrivals=bursty"}, "micq bench: --arrivals must be poisson or even"},
      {{"--serve=ftp://x"}, "micq bench: --serve: only http:// upstreams are supported: ftp://x"},
      {{"--events=dance=1"}, "micq bench: --events: unknown event type 'dance'"},
      {{"--scenario=nope"},
       "micq bench: --scenario must be article, single, hot-room or fleet (or leave it out with --serve)"},
      {{"--target=12"}, "micq bench: --target: expected ROOMSxVIEWERS, e.g. 1000x10000"},
      {{"--utilization=2"}, "micq bench: --utilization must be more than 0 and at most 1"},
      {{"--kinds=nope"}, "micq bench: --kinds names an unknown kind 'nope'"},
      {{"--scale-after=0"}, "micq bench: --scale-after must be more than 0 and at most 1000"},
      {{"--rebuild-interval-ms=-1"}, "micq bench: --rebuild-interval-ms must be 0..60000"},
      {{"--rebuild-interval-ms=x"}, "micq bench: --rebuild-interval-ms must be 0..60000"},
      {{"--events-scale=0"}, "micq bench: --events-scale must be more than 0 and at most 1000"},
      {{"--poll-seconds=nan"}, "micq bench: --poll-seconds must be more than 0 and at most 3600"},
      {{"--conditional=yes"}, "micq bench: --conditional must be on or off"},
      {{"--strategy=fastest"}, "micq bench: --strategy must be direct, singleflight or cached"},
      {{"--json=simd"}, "micq bench: --json must be fast or baseline"},
      {{"--path=nope"}, "micq bench: --path must start with /"},
      {{"--room=" + std::string(60, 'r')},
       "micq bench: --room must be a room id of at most 50 characters of [A-Za-z0-9_.-]"},
      {{"--instances=0"},
       "micq bench: --instances: expected a comma list of instance counts, each 1..16, e.g. 1,2,4"},
      {{"--instances=1,"}, "micq bench: --instances: a trailing comma in the instance counts"},
      {{"--probe-per-second=0"}, "micq bench: --probe-per-second must be 1..10000"},
      // Flags that go together or not.
      {{"--scenario=target"}, "micq bench: --scenario target needs --serve"},
      {{"--scenario=single", "--serve=http://127.0.0.1:1"},
       "micq bench: --serve measures a running stack; it does not go with --scenario single"},
      {{"--scenario=fleet", "--path=/x"}, "micq bench: --path does not go with --scenario fleet"},
  };
  for (const auto& [flags, line] : cases) {
    std::vector<std::string> args = {"bench", "--out-dir", out_dir_};
    args.insert(args.end(), flags.begin(), flags.end());
    ChildProcess bench(args);
    auto code = bench.wait_exit(20s);
    ASSERT_TRUE(code) << line;
    EXPECT_EQ(*code, 2) << line;
    EXPECT_EQ(bench.output(), line + "\n");
  }
  EXPECT_TRUE(std::filesystem::is_empty(out_dir_));
}

TEST_F(BenchTest, ArticleScenarioRunsThreeStagesWithConsistentNumbers) {
  Finished run;
  ASSERT_NO_FATAL_FAILURE(
      run_bench(words("bench --scenario article --duration-s 2 --warmup-s 0.5 --hot-viewers 60 --rooms 2 "
                      "--room-viewers 3 --events gift=6,privilege=3 --kinds 4 --sim-latency-ms 1 "
                      "--sim-jitter-ms 1 --scale-after 2"),
                180s, run));
  EXPECT_EQ(run.code, 0) << run.output;
  EXPECT_NE(run.output.find("against direct+baseline+20"), std::string::npos) << run.output;
  const rapidjson::Document& doc = run.doc;
  EXPECT_STREQ(doc["scenario"].GetString(), "article");
  ASSERT_EQ(doc["stages"].Size(), 3u);
  const char* strategies[] = {"direct", "singleflight", "cached"};
  const char* json[] = {"baseline", "fast", "fast"};
  const int sizes[] = {20, 10, 10};
  for (unsigned i = 0; i < 3; ++i) {
    SCOPED_TRACE(strategies[i]);
    const auto& stage = doc["stages"][i];
    EXPECT_STREQ(stage["strategy"].GetString(), strategies[i]);
    EXPECT_STREQ(stage["json"].GetString(), json[i]);
    EXPECT_EQ(stage["page_size"].GetInt(), sizes[i]);
    std::uint64_t requests = stage["requests"]["ok"].GetUint64() + stage["requests"]["errors"].GetUint64();
    EXPECT_EQ(requests, stage["requests"]["scheduled"].GetUint64());
    EXPECT_GT(requests, 0u);
    EXPECT_EQ(stage["requests"]["errors"].GetUint64(), 0u);
    EXPECT_TRUE(stage["requests"]["errors_by_kind"].IsObject());
    // The first stage runs the given load, the others twice it.
    EXPECT_DOUBLE_EQ(stage["offered_per_second"].GetDouble(), (i == 0 ? 1 : 2) * (60 + 2 * 3) / 3.0);
    // Every process of the stack is measured.
    for (const char* process : {"serve", "aggregator", "sim", "redis", "bench"})
      EXPECT_TRUE(stage["cpu_ms_per_1k_requests"][process].IsNumber()) << process;
    for (const char* tier : {"serve", "aggregator", "downstream", "redis"})
      EXPECT_TRUE(stage["target_machines"][tier].IsNumber()) << tier;
    // Batches never exceed requests; direct does exactly one per request;
    // the aggregator calls each of the 4 kinds once per batch.
    std::uint64_t batches = stage["aggregator"]["batches"].GetUint64();
    EXPECT_LE(batches, requests);
    if (i == 0) {
      EXPECT_EQ(batches, requests);
    }
    // (Counted when the stage ends: a batch in flight then, such as a
    // refresh ahead, is counted before all of its 4 calls are.)
    std::uint64_t downstream = stage["aggregator"]["downstream_requests"].GetUint64();
    EXPECT_LE(downstream, 4 * batches);
    EXPECT_GE(downstream + 4 * 2, 4 * batches) << "at most two batches in flight when the stage ended";
    // Events were applied, privilege ones with a sim bump, and every applied
    // event was either seen by a later answer or is still counted unseen.
    const auto& events = stage["events"];
    EXPECT_GT(events["applied"].GetUint64(), 0u);
    EXPECT_EQ(events["failed"].GetUint64(), 0u);
    EXPECT_EQ(events["applied"].GetUint64(), events["sent"].GetUint64());
    EXPECT_GT(events["sim_bumps"].GetUint64(), 0u);
    EXPECT_EQ(stage["staleness_ms"]["samples"].GetUint64() + stage["staleness_ms"]["unseen"].GetUint64(),
              events["applied"].GetUint64());
  }
  ASSERT_EQ(doc["comparisons"].Size(), 2u);
  EXPECT_TRUE(doc["comparisons"][1]["aggregator_requests_reduction_pct"].IsNumber());
  EXPECT_NE(result_file(".svg").find("cached+fast+10"), std::string::npos);
}

TEST_F(BenchTest, HotRoomScenarioComparesTheSamePollsWithoutEventsWithThemOnAPlainTtlCacheAndAllBodies) {
  // 200 viewers polling every second (each about twice a stage), the
  // SPEC's event mix at a tenth of its rate.
  Finished run;
  ASSERT_NO_FATAL_FAILURE(run_bench(
      words("bench --scenario hot-room --hot-viewers 200 --poll-seconds 1 --duration-s 2 --warmup-s 1 "
            "--events-scale 0.1 --kinds 4 --sim-latency-ms 1 --sim-jitter-ms 1"),
      180s, run));
  EXPECT_EQ(run.code, 0) << run.output;
  EXPECT_NE(run.output.find("events vs no events"), std::string::npos) << run.output;
  const rapidjson::Document& doc = run.doc;
  EXPECT_STREQ(doc["scenario"].GetString(), "hot-room");
  EXPECT_NE(std::string(doc["events"].GetString()).find("enter=2.5,exit=2.5,gift=1.5,chat=3"),
            std::string::npos)
      << "the hot-room mix, scaled: " << doc["events"].GetString();
  ASSERT_EQ(doc["stages"].Size(), 4u);
  const char* names[] = {"cached, no events", "cached, 10 events/s", "plain TTL, 10 events/s",
                         "cached, no events, no If-None-Match"};
  for (unsigned i = 0; i < 4; ++i) {
    SCOPED_TRACE(names[i]);
    const auto& stage = doc["stages"][i];
    EXPECT_STREQ(stage["name"].GetString(), names[i]);
    EXPECT_STREQ(stage["strategy"].GetString(), "cached");
    // The same polls in every stage: the hot room only, no small rooms.
    EXPECT_DOUBLE_EQ(stage["offered_per_second"].GetDouble(), 200.0);
    const auto& requests = stage["requests"];
    EXPECT_EQ(requests["ok"].GetUint64() + requests["errors"].GetUint64(), requests["scheduled"].GetUint64());
    EXPECT_EQ(requests["errors"].GetUint64(), 0u);
    EXPECT_TRUE(requests["not_modified_share"].IsNumber());
    EXPECT_TRUE(stage["aggregator"]["batches_per_second"].IsNumber());
    EXPECT_TRUE(stage["cpu_ms_per_1k_requests"]["serve"].IsNumber());
    for (const char* key : {"p50", "p99", "p99_9"}) EXPECT_GT(stage["latency_ms"][key].GetDouble(), 0) << key;
    // Serve's counters: numbers, or null where serve does not export them
    // (a plain TTL cache keeps no per-user records).
    const auto& serve = stage["serve_metrics"];
    for (const char* key : {"new_user_batches", "new_user_batches_per_second", "other_privilege_batches",
                            "other_privilege_batches_per_second", "load_waits", "load_waits_last_half"})
      EXPECT_TRUE(serve.HasMember(key) && (serve[key].IsNumber() || serve[key].IsNull())) << key;
    EXPECT_TRUE(serve["load_waits"].IsNumber()) << "serve exports micq_load_waits_total (SPEC §2)";
    if (serve["load_waits"].IsNumber()) {
      EXPECT_LE(serve["load_waits_last_half"].GetUint64(), serve["load_waits"].GetUint64());
    }
    if (i < 2) {
      EXPECT_TRUE(serve["new_user_batches"].IsNumber()) << "cached pages count batches by reason";
    }
    const auto& events = stage["events"];
    if (i == 0) {
      EXPECT_EQ(events["sent"].GetUint64(), 0u) << "the baseline has no events";
      EXPECT_GT(requests["not_modified"].GetUint64(), 0u) << "an unchanged list answers 304";
    } else if (i == 3) {
      EXPECT_EQ(events["sent"].GetUint64(), 0u);
      EXPECT_EQ(requests["not_modified"].GetUint64(), 0u) << "without If-None-Match every answer is a body";
    } else {
      EXPECT_GT(events["applied"].GetUint64(), 0u);
      EXPECT_EQ(events["failed"].GetUint64(), 0u);
      EXPECT_EQ(stage["staleness_ms"]["samples"].GetUint64() + stage["staleness_ms"]["unseen"].GetUint64(),
                events["applied"].GetUint64());
    }
  }
  const auto& cost = doc["events_vs_no_events"];
  ASSERT_TRUE(cost.IsObject());
  EXPECT_STREQ(cost["stage"].GetString(), names[1]);
  EXPECT_STREQ(cost["against"].GetString(), names[0]);
  for (const char* key : {"aggregator_batches_per_second_ratio", "latency_p50_ratio", "latency_p99_ratio",
                          "serve_cpu_per_1k_requests_ratio"})
    EXPECT_TRUE(cost[key].IsNumber()) << key;
  const auto& beyond_bytes = doc["events_vs_every_answer_a_body"];
  ASSERT_TRUE(beyond_bytes.IsObject());
  EXPECT_STREQ(beyond_bytes["stage"].GetString(), names[1]);
  EXPECT_STREQ(beyond_bytes["against"].GetString(), names[3]);
  for (const char* key : {"latency_p50_ratio", "latency_p99_ratio", "serve_cpu_per_1k_requests_ratio"})
    EXPECT_TRUE(beyond_bytes[key].IsNumber()) << key;
  EXPECT_NE(run.output.find("events vs every answer a body"), std::string::npos) << run.output;
  EXPECT_NE(result_file(".svg").find("plain TTL, 10 events/s"), std::string::npos);
}

TEST_F(BenchTest, FleetScenarioMeasuresEachFleetSizeBehindHaproxyOnARedisCluster) {
  if (!std::filesystem::exists("/usr/sbin/haproxy"))
    GTEST_SKIP() << "haproxy not installed (scripts/test installs it)";
  // 100 viewers polling every second, the hot room's events at a tenth of
  // their rate, on fleets of 1 and 2 instances.
  Finished run;
  ASSERT_NO_FATAL_FAILURE(run_bench(
      words("bench --scenario fleet --instances 1,2 --hot-viewers 100 --poll-seconds 1 --duration-s 1.5 "
            "--warmup-s 0.5 --events-scale 0.1 --kinds 2 --sim-latency-ms 1 --sim-jitter-ms 0 "
            "--probe-per-second 50"),
      120s, run));
  EXPECT_EQ(run.code, 0) << run.output;
  const rapidjson::Document& doc = run.doc;
  EXPECT_STREQ(doc["scenario"].GetString(), "fleet");
  ASSERT_EQ(doc["stages"].Size(), 4u);
  const auto& fleet = doc["fleet"];
  ASSERT_TRUE(fleet.IsArray());
  ASSERT_EQ(fleet.Size(), 4u) << "per fleet size: without events, with events";
  for (unsigned i = 0; i < 4; ++i) {
    const auto& row = fleet[i];
    const unsigned instances = i < 2 ? 1 : 2;
    const bool with_events = i % 2 == 1;
    SCOPED_TRACE(row["stage"].GetString());
    EXPECT_EQ(row["instances"].GetUint(), instances);
    EXPECT_EQ(doc["stages"][i]["instances"].GetUint(), instances);
    EXPECT_EQ(row["with_events"].GetBool(), with_events);
    EXPECT_GT(row["requests"].GetUint64(), 0u);
    EXPECT_GT(row["probe_requests"].GetUint64(), 0u) << "staleness probes read the instances directly";
    EXPECT_EQ(row["errors"].GetUint64(), 0u);
    ASSERT_TRUE(row["aggregator_batches_per_second"].IsNumber());
    EXPECT_GE(row["aggregator_batches_per_second"].GetDouble(), 0);
    ASSERT_TRUE(row["redis_commands_per_request"].IsNumber()) << "INFO read on every cluster node";
    EXPECT_GT(row["redis_commands_per_request"].GetDouble(), 0);
    EXPECT_TRUE(row["serve_cpu_ms_per_1k_requests"].IsNumber()) << "CPU summed over the instances";
    EXPECT_GT(row["latency_p50_ms"].GetDouble(), 0);
    EXPECT_GE(row["latency_p99_ms"].GetDouble(), row["latency_p50_ms"].GetDouble());
    if (with_events) {
      EXPECT_GT(row["staleness_samples"].GetUint64(), 0u);
      ASSERT_TRUE(row["staleness_p99_ms"].IsNumber());
      EXPECT_LE(row["staleness_p50_ms"].GetDouble(), row["staleness_p99_ms"].GetDouble());
      // Within the TTL (1 s) plus a probe's gap and a rebuild, notification or not.
      EXPECT_LT(row["staleness_p99_ms"].GetDouble(), 1500);
    } else {
      EXPECT_TRUE(row["staleness_p50_ms"].IsNull()) << "no events, nothing to be stale";
    }
  }
  EXPECT_NE(run.output.find("Redis cmd/req"), std::string::npos) << run.output;
  EXPECT_NE(result_file(".svg").find("N=2, 10 events/s"), std::string::npos);
}

TEST_F(BenchTest, ConditionalViewersGet304sForAnUnchangedList) {
  // No events: the list does not change, so after a viewer's first answer
  // every poll of its (even-spaced) schedule carries the current ETag.
  Finished run;
  ASSERT_NO_FATAL_FAILURE(run_bench(
      words("bench --scenario single --strategy cached --duration-s 2 --warmup-s 0 --hot-viewers 10 "
            "--rooms 0 --poll-seconds 0.5 --arrivals even --events none --conditional on --kinds 2 "
            "--sim-latency-ms 1 --sim-jitter-ms 0"),
      120s, run));
  EXPECT_EQ(run.code, 0) << run.output;
  const rapidjson::Document& doc = run.doc;
  const auto& requests = doc["stages"][0]["requests"];
  EXPECT_EQ(requests["ok"].GetUint64(), 40u) << "10 viewers x 2 polls/s x 2 s";
  EXPECT_GE(requests["not_modified"].GetUint64(), 30u) << "all but each viewer's first poll";
}

TEST_F(BenchTest, CtrlCStopsEverythingItStarted) {
  ChildProcess bench({"bench", "--scenario", "article", "--duration-s", "60", "--hot-viewers", "30",
                      "--rooms", "1", "--room-viewers", "3", "--kinds", "2", "--out-dir", out_dir_});
  ASSERT_TRUE(bench.wait_for_line("stage direct", 60s)) << bench.output();
  std::vector<int> children = children_of(bench.pid());
  EXPECT_EQ(children.size(), 4u) << "redis, sim, aggregator, serve";
  bench.signal(SIGINT);
  auto code = bench.wait_exit(30s);
  ASSERT_TRUE(code);
  EXPECT_NE(*code, 0);
  for (int pid : children) EXPECT_FALSE(alive(pid)) << pid;
}

}  // namespace
}  // namespace micq::testing
