// micq sim against SPEC §4, as a real process on loopback.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "http_client.h"
#include "process.h"

namespace micq::testing {
namespace {

using Verb = boost::beast::http::verb;

class SimTest : public ::testing::Test {
 protected:
  void SetUp() override { sim = start_service({"sim", "--kinds", "vip,medal,level", "--latency-ms", "0"}); }
  Service sim;
};

TEST_F(SimTest, BatchAnswersEveryUidWithItsRecord) {
  auto reply = post(sim.port, "/v1/kinds/vip/batch", R"({"uids":["u1","u2"]})");
  ASSERT_EQ(reply.result_int(), 200) << reply.body();
  auto doc = parse(reply.body());
  ASSERT_TRUE(doc.IsObject());
  for (const char* uid : {"u1", "u2"}) {
    const auto& record = doc["users"][uid];
    EXPECT_STREQ(record["kind"].GetString(), "vip");
    EXPECT_STREQ(record["uid"].GetString(), uid);
    EXPECT_EQ(record["gen"].GetUint64(), 0u);
  }
}

TEST_F(SimTest, RecordsAreDeterministic) {
  auto first = post(sim.port, "/v1/kinds/medal/batch", R"({"uids":["u1"]})");
  auto second = post(sim.port, "/v1/kinds/medal/batch", R"({"uids":["u1"]})");
  EXPECT_EQ(first.body(), second.body());
}

TEST_F(SimTest, RecordSizeFollowsPayloadBytesLive) {
  for (int payload : {1024, 4096}) {
    ASSERT_EQ(
        post(sim.port, "/admin/config", "{\"payload_bytes\":" + std::to_string(payload) + "}").result_int(),
        200);
    auto reply = post(sim.port, "/v1/kinds/level/batch", R"({"uids":["u1"]})");
    auto size = static_cast<double>(reply.body().size() - std::string(R"({"users":{"u1":}})").size());
    EXPECT_GT(size, 0.75 * payload);
    EXPECT_LT(size, 1.25 * payload);
  }
}

TEST_F(SimTest, BumpChangesTheRecordOfThatUserOnly) {
  auto before = post(sim.port, "/v1/kinds/vip/batch", R"({"uids":["u1","u2"]})");
  auto bump = post(sim.port, "/admin/users/u1/bump", "");
  ASSERT_EQ(bump.result_int(), 200);
  auto after = post(sim.port, "/v1/kinds/vip/batch", R"({"uids":["u1","u2"]})");
  auto old_doc = parse(before.body()), new_doc = parse(after.body());
  EXPECT_EQ(new_doc["users"]["u1"]["gen"].GetUint64(), 1u);
  EXPECT_TRUE(new_doc["users"]["u2"] == old_doc["users"]["u2"]);
  EXPECT_FALSE(new_doc["users"]["u1"] == old_doc["users"]["u1"]);
}

TEST_F(SimTest, UnknownKindIs404) {
  auto reply = post(sim.port, "/v1/kinds/dragon/batch", R"({"uids":["u1"]})");
  EXPECT_EQ(reply.result_int(), 404);
  EXPECT_EQ(error_code_of(reply.body()), "unknown_kind");
}

TEST_F(SimTest, BadBodiesAre400) {
  for (const char* body : {"", "{", R"({"uids":[]})", R"({"uids":["bad uid"]})", "[1,2]"}) {
    auto reply = post(sim.port, "/v1/kinds/vip/batch", body);
    EXPECT_EQ(reply.result_int(), 400) << body;
    EXPECT_FALSE(error_code_of(reply.body()).empty()) << reply.body();
  }
}

TEST_F(SimTest, ErrorRateOneAnswers500) {
  ASSERT_EQ(post(sim.port, "/admin/config", R"({"error_rate":1})").result_int(), 200);
  EXPECT_EQ(post(sim.port, "/v1/kinds/vip/batch", R"({"uids":["u1"]})").result_int(), 500);
}

TEST_F(SimTest, BadConfigIs400AndChangesNothing) {
  for (const char* body : {R"({"error_rate":2})", R"({"payload_bytes":"big"})", R"({"colour":1})",
                           R"({"latency_ms":-1})", "nope", R"({"error_rate":1,"jitter_ms":-5})"}) {
    EXPECT_EQ(post(sim.port, "/admin/config", body).result_int(), 400) << body;
  }
  EXPECT_EQ(post(sim.port, "/v1/kinds/vip/batch", R"({"uids":["u1"]})").result_int(), 200)
      << "the half-valid config did not apply error_rate 1";
}

TEST_F(SimTest, StatsCountByKindAndReset) {
  post(sim.port, "/v1/kinds/vip/batch", R"({"uids":["u1"]})");
  post(sim.port, "/v1/kinds/vip/batch", R"({"uids":["u1"]})");
  post(sim.port, "/v1/kinds/medal/batch", R"({"uids":["u1"]})");
  auto stats = parse(get(sim.port, "/stats").body());
  EXPECT_EQ(stats["requests_total"].GetUint64(), 3u);
  EXPECT_EQ(stats["by_kind"]["vip"].GetUint64(), 2u);
  EXPECT_EQ(stats["by_kind"]["medal"].GetUint64(), 1u);
  EXPECT_EQ(stats["by_kind"]["level"].GetUint64(), 0u);
  ASSERT_EQ(post(sim.port, "/admin/reset-stats", "").result_int(), 200);
  EXPECT_EQ(parse(get(sim.port, "/stats").body())["requests_total"].GetUint64(), 0u);
}

TEST(SimLatencyTest, LatencyIsAddedWithTimers) {
  auto sim = start_service({"sim", "--kinds", "1", "--latency-ms", "200", "--jitter-ms", "0"});
  auto started = std::chrono::steady_clock::now();
  auto reply = post(sim.port, "/v1/kinds/avatar_frame/batch", R"({"uids":["u1"]})");
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(reply.result_int(), 200);
  EXPECT_GE(took, std::chrono::milliseconds(190));
}

}  // namespace
}  // namespace micq::testing
