#include "record.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace micq::sim {
namespace {

TEST(Record, IsDeterministicForKindUidGen) {
  EXPECT_EQ(make_record({"vip", "u1", 0}, 1024), make_record({"vip", "u1", 0}, 1024));
}

TEST(Record, ChangesWithEachPartOfTheKey) {
  auto base = make_record({"vip", "u1", 0}, 1024);
  EXPECT_NE(base, make_record({"medal", "u1", 0}, 1024));
  EXPECT_NE(base, make_record({"vip", "u2", 0}, 1024));
  EXPECT_NE(base, make_record({"vip", "u1", 1}, 1024));
}

TEST(Record, IsValidJsonWithTheSpecFields) {
  auto json = make_record({"vip", "u1", 3}, 1024);
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  ASSERT_FALSE(doc.HasParseError());
  EXPECT_STREQ(doc["kind"].GetString(), "vip");
  EXPECT_STREQ(doc["uid"].GetString(), "u1");
  EXPECT_EQ(doc["gen"].GetUint64(), 3u);
  for (const char* field : {"level", "icon", "expires_at", "title", "text"})
    EXPECT_TRUE(doc.HasMember(field));
}

TEST(Record, SizeIsWithinAQuarterOfThePayload) {
  for (std::size_t payload : {512u, 1024u, 4096u, 32768u}) {
    for (const char* uid : {"u", "user-with-a-long-name-0123456789"}) {
      auto size = static_cast<double>(make_record({"entrance_effect", uid, 7}, payload).size());
      EXPECT_GT(size, 0.75 * static_cast<double>(payload)) << payload;
      EXPECT_LT(size, 1.25 * static_cast<double>(payload)) << payload;
    }
  }
}

}  // namespace
}  // namespace micq::sim
