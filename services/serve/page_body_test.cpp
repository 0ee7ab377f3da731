#include "page_body.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "services/serve/testing/sample_page.h"

namespace micq::serve {
namespace {

using testing::sample_page;

std::string sample_answer() {
  return R"({"users":{"u7":{"vip":{"level":3,"t":"a\"b"}},"u3":{"medal":{"x":[1,2]}},"u1":{}},)"
         R"("degraded_kinds":["badge"]})";
}

TEST(PageBody, FastHasTheSpecShape) {
  std::string answer = sample_answer();
  auto body = build_page_body(JsonEngine::kFast, {"r1", 2, 3}, sample_page(), answer);
  ASSERT_TRUE(body) << body.error();
  auto doc = nlohmann::json::parse(*body);
  EXPECT_EQ(doc["room_id"], "r1");
  EXPECT_EQ(doc["version"], 7);
  EXPECT_EQ(doc["total"], 42);
  EXPECT_EQ(doc["page"], 2);
  EXPECT_EQ(doc["size"], 3);
  ASSERT_EQ(doc["items"].size(), 3u);
  EXPECT_EQ(doc["items"][0]["rank"], 7) << "rank is 1-based over the whole room";
  EXPECT_EQ(doc["items"][0]["uid"], "u7");
  EXPECT_EQ(doc["items"][0]["score"], 5200);
  EXPECT_EQ(doc["items"][1]["score"], 100) << "a score written into Redis by hand is rounded";
  EXPECT_EQ(doc["items"][0]["privileges"]["vip"]["t"], "a\"b");
  EXPECT_EQ(doc["degraded_kinds"], nlohmann::json::array({"badge"}));
}

TEST(PageBody, ScoresRenderAsIntegersWhateverRedisHolds) {
  RankPage page;
  page.entries = {{"a", 9007199254740992.0}, {"b", 1e30}, {"c", -1e30}, {"d", 9007199254740991.0}};
  page.total = 4;
  std::string none = R"({"users":{"a":{},"b":{},"c":{},"d":{}},"degraded_kinds":[]})";
  for (auto engine : {JsonEngine::kFast, JsonEngine::kBaseline}) {
    std::string answer = none;
    auto body = build_page_body(engine, {"r1", 0, 10}, page, answer);
    ASSERT_TRUE(body) << body.error();
    EXPECT_NE(body->find(R"("score":9007199254740992,)"), std::string::npos) << *body;
    EXPECT_NE(body->find(R"("score":9223372036854775807,)"), std::string::npos) << *body;
    EXPECT_NE(body->find(R"("score":-9223372036854775808,)"), std::string::npos) << *body;
    EXPECT_NE(body->find(R"("score":9007199254740991,)"), std::string::npos) << *body;
    EXPECT_EQ(body->find(".0"), std::string::npos) << "no score renders as a double: " << *body;
  }
}

TEST(PageBody, FastAndBaselineAgree) {
  std::string fast_answer = sample_answer(), baseline_answer = sample_answer();
  auto fast = build_page_body(JsonEngine::kFast, {"r1", 0, 10}, sample_page(), fast_answer);
  auto baseline = build_page_body(JsonEngine::kBaseline, {"r1", 0, 10}, sample_page(), baseline_answer);
  ASSERT_TRUE(fast && baseline);
  EXPECT_EQ(nlohmann::json::parse(*fast), nlohmann::json::parse(*baseline));
}

TEST(PageBody, FastSplicesThePrivilegesTextUnchanged) {
  std::string answer = sample_answer();
  auto body = build_page_body(JsonEngine::kFast, {"r1", 0, 10}, sample_page(), answer);
  EXPECT_NE(body->find(R"("privileges":{"vip":{"level":3,"t":"a\"b"}})"), std::string::npos) << *body;
}

TEST(PageBody, EmptyRoomHasNoItems) {
  std::string none;
  for (auto engine : {JsonEngine::kFast, JsonEngine::kBaseline}) {
    auto body = build_page_body(engine, {"empty", 0, 10}, RankPage{}, none);
    ASSERT_TRUE(body);
    auto doc = nlohmann::json::parse(*body);
    EXPECT_EQ(doc["total"], 0);
    EXPECT_EQ(doc["items"], nlohmann::json::array());
    EXPECT_EQ(doc["degraded_kinds"], nlohmann::json::array());
  }
}

TEST(PageBody, UserMissingFromTheAnswerGetsEmptyPrivileges) {
  std::string answer = R"({"users":{"u7":{"vip":{}}},"degraded_kinds":[]})";
  auto body = build_page_body(JsonEngine::kFast, {"r1", 0, 10}, sample_page(), answer);
  auto doc = nlohmann::json::parse(*body);
  EXPECT_EQ(doc["items"][2]["privileges"], nlohmann::json::object());
}

TEST(PageBody, MalformedAnswerIsAnError) {
  for (const char* bad : {"nope", R"({"users":[1]})", R"({"users":{"u7":3}})"}) {
    std::string answer = bad;
    EXPECT_FALSE(build_page_body(JsonEngine::kFast, {"r1", 0, 10}, sample_page(), answer)) << bad;
  }
  std::string answer = "nope";
  EXPECT_FALSE(build_page_body(JsonEngine::kBaseline, {"r1", 0, 10}, sample_page(), answer));
}

}  // namespace
}  // namespace micq::serve
