#include "merge.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "services/sim/record.h"

namespace micq::aggregator {
namespace {

std::string answer_for(std::string_view kind, const std::vector<std::string>& uids) {
  std::string body = R"({"users":{)";
  for (std::size_t i = 0; i < uids.size(); ++i) {
    if (i) body += ",";
    body += "\"" + uids[i] + "\":" + sim::make_record({kind, uids[i], 0}, 300);
  }
  return body + "}}";
}

TEST(Merge, SplicesEveryRecordUnchanged) {
  std::vector<std::string> uids{"u1", "u2"};
  std::vector<KindAnswer> answers{{"vip", true, answer_for("vip", uids)},
                                  {"medal", true, answer_for("medal", uids)}};
  std::string merged = merge_privileges(uids, answers);
  rapidjson::Document doc;
  doc.Parse(merged.c_str());
  ASSERT_FALSE(doc.HasParseError()) << merged;
  EXPECT_EQ(doc["degraded_kinds"].Size(), 0u);
  EXPECT_NE(merged.find("\"vip\":" + sim::make_record({"vip", "u2", 0}, 300)), std::string::npos)
      << "the record's bytes appear exactly as the downstream sent them";
  EXPECT_STREQ(doc["users"]["u1"]["medal"]["uid"].GetString(), "u1");
}

TEST(Merge, FailedKindIsDegradedAndLeftOutOfEveryUser) {
  std::vector<std::string> uids{"u1", "u2"};
  std::vector<KindAnswer> answers{{"vip", true, answer_for("vip", uids)}, {"medal", false, ""}};
  rapidjson::Document doc;
  doc.Parse(merge_privileges(uids, answers).c_str());
  ASSERT_EQ(doc["degraded_kinds"].Size(), 1u);
  EXPECT_STREQ(doc["degraded_kinds"][0].GetString(), "medal");
  EXPECT_FALSE(doc["users"]["u1"].HasMember("medal"));
  EXPECT_TRUE(doc["users"]["u1"].HasMember("vip"));
}

TEST(Merge, MalformedAnswerCountsAsDegraded) {
  std::vector<std::string> uids{"u1"};
  for (std::string bad : {"not json", R"({"users":[1]})", R"({"other":{}})", R"({"users":{"u1":5}})"}) {
    std::vector<KindAnswer> answers{{"vip", true, bad}};
    rapidjson::Document doc;
    doc.Parse(merge_privileges(uids, answers).c_str());
    ASSERT_FALSE(doc.HasParseError()) << bad;
    EXPECT_EQ(doc["degraded_kinds"].Size(), 1u) << bad;
    EXPECT_TRUE(doc["users"].HasMember("u1")) << "every uid is a key of users";
  }
}

TEST(Merge, AllKindsDownStillListsEveryUser) {
  std::vector<std::string> uids{"a", "b", "c"};
  std::vector<KindAnswer> answers{{"vip", false, ""}, {"medal", false, ""}};
  rapidjson::Document doc;
  doc.Parse(merge_privileges(uids, answers).c_str());
  EXPECT_EQ(doc["users"].MemberCount(), 3u);
  EXPECT_TRUE(doc["users"]["b"].IsObject());
  EXPECT_EQ(doc["degraded_kinds"].Size(), 2u);
}

TEST(Merge, AnswersInAnotherOrderStillMatchTheirUsers) {
  std::vector<std::string> uids{"u1", "u2", "u3"};
  std::vector<std::string> reversed{"u3", "u2", "u1"};
  std::vector<KindAnswer> answers{{"vip", true, answer_for("vip", reversed)}};
  rapidjson::Document doc;
  doc.Parse(merge_privileges(uids, answers).c_str());
  for (const char* uid : {"u1", "u2", "u3"}) EXPECT_STREQ(doc["users"][uid]["vip"]["uid"].GetString(), uid);
}

TEST(Merge, UsersMissingFromAnAnswerGetNoRecordOfThatKind) {
  std::vector<std::string> uids{"u1", "u2"};
  std::vector<KindAnswer> answers{{"vip", true, answer_for("vip", {"u1"})}};
  rapidjson::Document doc;
  doc.Parse(merge_privileges(uids, answers).c_str());
  EXPECT_TRUE(doc["users"]["u1"].HasMember("vip"));
  EXPECT_FALSE(doc["users"]["u2"].HasMember("vip"));
  EXPECT_EQ(doc["degraded_kinds"].Size(), 0u);
}

// Found by fuzz/merge_fuzz.cpp: on-demand parsing skips a record without
// reading it, so its bytes went into the merged answer as they came.
TEST(Merge, AnswerWithAnInvalidRecordIsDegradedNotSpliced) {
  std::vector<std::string> uids{"u1"};
  std::vector<KindAnswer> answers{{"vip", true, R"({"users":{"u1":{"a":tru}}})"},
                                  {"medal", true, answer_for("medal", uids)}};
  std::string merged = merge_privileges(uids, answers);
  rapidjson::Document doc;
  doc.Parse(merged.c_str());
  ASSERT_FALSE(doc.HasParseError()) << merged;
  ASSERT_EQ(doc["degraded_kinds"].Size(), 1u);
  EXPECT_STREQ(doc["degraded_kinds"][0].GetString(), "vip");
  EXPECT_FALSE(doc["users"]["u1"].HasMember("vip"));
  EXPECT_TRUE(doc["users"]["u1"].HasMember("medal"));
}

// Found by fuzz/merge_fuzz.cpp: an answer cut short after its last record
// was taken as whole.
TEST(Merge, TruncatedAnswerIsDegraded) {
  std::vector<std::string> uids{"u1"};
  for (std::string cut : {R"({"users":{})", R"({"users":{"u1":{"a":1}})"}) {
    std::vector<KindAnswer> answers{{"vip", true, cut}};
    rapidjson::Document doc;
    doc.Parse(merge_privileges(uids, answers).c_str());
    ASSERT_FALSE(doc.HasParseError()) << cut;
    EXPECT_EQ(doc["degraded_kinds"].Size(), 1u) << cut;
    EXPECT_FALSE(doc["users"]["u1"].HasMember("vip")) << cut;
  }
}

}  // namespace
}  // namespace micq::aggregator
