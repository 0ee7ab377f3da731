// micq aggregator against SPEC §3, with a real micq sim behind it.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "http_client.h"
#include "process.h"

namespace micq::testing {
namespace {

class AggregatorTest : public ::testing::Test {
 protected:
  void start(const std::string& sim_kinds, const std::string& aggregator_kinds,
             const std::string& timeout_ms = "500") {
    sim = start_service({"sim", "--kinds", sim_kinds, "--latency-ms", "1", "--jitter-ms", "1"});
    aggregator = start_service({"aggregator", "--downstream", base_url(sim.port), "--kinds", aggregator_kinds,
                                "--timeout-ms", timeout_ms});
  }
  Service sim, aggregator;
};

TEST_F(AggregatorTest, MergesEveryKindForEveryUid) {
  start("4", "4");
  auto reply = post(aggregator.port, "/v1/privileges/batch", R"({"uids":["u1","u2","u3"]})");
  ASSERT_EQ(reply.result_int(), 200) << reply.body();
  auto doc = parse(reply.body());
  EXPECT_EQ(doc["degraded_kinds"].Size(), 0u);
  ASSERT_EQ(doc["users"].MemberCount(), 3u);
  for (const char* uid : {"u1", "u2", "u3"}) {
    EXPECT_EQ(doc["users"][uid].MemberCount(), 4u);
    EXPECT_STREQ(doc["users"][uid]["medal"]["uid"].GetString(), uid);
  }
}

TEST_F(AggregatorTest, ExactlyOneCallPerKindPerBatch) {
  start("24", "24");
  post(sim.port, "/admin/reset-stats", "");
  ASSERT_EQ(post(aggregator.port, "/v1/privileges/batch", R"({"uids":["u1","u2"]})").result_int(), 200);
  auto stats = parse(get(sim.port, "/stats").body());
  EXPECT_EQ(stats["requests_total"].GetUint64(), 24u);
  for (auto& kind : stats["by_kind"].GetObject())
    EXPECT_EQ(kind.value.GetUint64(), 1u) << kind.name.GetString();
  auto own = parse(get(aggregator.port, "/stats").body());
  EXPECT_EQ(own["batches_total"].GetUint64(), 1u);
  EXPECT_EQ(own["downstream_requests_total"].GetUint64(), 24u);
}

TEST_F(AggregatorTest, FailingKindIsDegradedAndLeftOut) {
  start("vip,medal", "vip,medal,level");  // the sim does not serve "level": 404
  auto doc = parse(post(aggregator.port, "/v1/privileges/batch", R"({"uids":["u1"]})").body());
  ASSERT_EQ(doc["degraded_kinds"].Size(), 1u);
  EXPECT_STREQ(doc["degraded_kinds"][0].GetString(), "level");
  EXPECT_TRUE(doc["users"]["u1"].HasMember("vip"));
  EXPECT_FALSE(doc["users"]["u1"].HasMember("level"));
  // /metrics says which kind failed, and how.
  std::string metrics = get(aggregator.port, "/metrics").body();
  EXPECT_NE(metrics.find(R"(micq_aggregator_downstream_calls_total{kind="level",outcome="error"} 1)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(micq_aggregator_downstream_calls_total{kind="vip",outcome="ok"} 1)"),
            std::string::npos);
  EXPECT_NE(metrics.find(R"(micq_aggregator_downstream_calls_total{kind="vip",outcome="error"} 0)"),
            std::string::npos);
  EXPECT_NE(metrics.find(R"(micq_aggregator_downstream_seconds_count{kind="medal"} 1)"), std::string::npos);
}

TEST_F(AggregatorTest, EveryKindDownIsStillA200WithEveryUser) {
  start("3", "3");
  post(sim.port, "/admin/config", R"({"error_rate":1})");
  auto reply = post(aggregator.port, "/v1/privileges/batch", R"({"uids":["u1","u2"]})");
  ASSERT_EQ(reply.result_int(), 200);
  auto doc = parse(reply.body());
  EXPECT_EQ(doc["degraded_kinds"].Size(), 3u);
  EXPECT_TRUE(doc["users"]["u1"].IsObject());
  EXPECT_TRUE(doc["users"]["u2"].IsObject());
}

TEST_F(AggregatorTest, SlowKindsMissTheDeadlineAndTheBatchDoesNotWait) {
  start("3", "3", "100");
  post(sim.port, "/admin/config", R"({"latency_ms":3000,"jitter_ms":0})");
  auto started = std::chrono::steady_clock::now();
  auto reply = post(aggregator.port, "/v1/privileges/batch", R"({"uids":["u1"]})");
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(reply.result_int(), 200);
  EXPECT_EQ(parse(reply.body())["degraded_kinds"].Size(), 3u);
  EXPECT_LT(took, std::chrono::milliseconds(2000)) << "answered near the 100 ms deadline, not after 3 s";
  std::string metrics = get(aggregator.port, "/metrics").body();
  EXPECT_NE(metrics.find(R"(micq_aggregator_downstream_calls_total{kind="medal",outcome="timeout"} 1)"),
            std::string::npos)
      << metrics;
}

TEST_F(AggregatorTest, BadBodiesAre400) {
  start("2", "2");
  std::string too_many = R"({"uids":[)";
  for (int i = 0; i < 201; ++i) too_many += (i ? ",\"u" : "\"u") + std::to_string(i) + "\"";
  too_many += "]}";
  for (const std::string& body :
       {std::string(""), std::string("{}"), std::string(R"({"uids":[]})"), std::string(R"({"uids":["a b"]})"),
        std::string(R"({"uids":[1]})"), too_many}) {
    auto reply = post(aggregator.port, "/v1/privileges/batch", body);
    EXPECT_EQ(reply.result_int(), 400) << body.substr(0, 40);
    EXPECT_FALSE(error_code_of(reply.body()).empty());
  }
  EXPECT_EQ(parse(get(aggregator.port, "/stats").body())["batches_total"].GetUint64(), 0u)
      << "bad input changes nothing";
}

TEST_F(AggregatorTest, TwoHundredUidsAreAccepted) {
  start("2", "2");
  std::string body = R"({"uids":[)";
  for (int i = 0; i < 200; ++i) body += (i ? ",\"u" : "\"u") + std::to_string(i) + "\"";
  body += "]}";
  auto reply = post(aggregator.port, "/v1/privileges/batch", body);
  ASSERT_EQ(reply.result_int(), 200);
  EXPECT_EQ(parse(reply.body())["users"].MemberCount(), 200u);
}

TEST(AggregatorFlagsTest, UnknownKindNameExitsNonZeroWithOneLine) {
  ChildProcess process({"aggregator", "--kinds", "vip,dragon", "--listen", "127.0.0.1:0"});
  auto code = process.wait_exit();
  ASSERT_TRUE(code);
  EXPECT_NE(*code, 0);
  EXPECT_NE(process.output().find("dragon"), std::string::npos);
  EXPECT_EQ(std::count(process.output().begin(), process.output().end(), '\n'), 1) << process.output();
}

}  // namespace
}  // namespace micq::testing
