#include "micq/service/uid_batch.h"

#include <gtest/gtest.h>

namespace micq::service {
namespace {

TEST(UidBatch, ParsesUids) {
  auto uids = parse_uid_batch(R"({"uids":["u1","u2"],"extra":{"a":[1]}})", 200);
  ASSERT_TRUE(uids) << uids.error();
  EXPECT_EQ(*uids, (std::vector<std::string>{"u1", "u2"}));
}

TEST(UidBatch, RoundTrips) {
  std::vector<std::string> uids{"a", "b.c", "d-e_f"};
  EXPECT_EQ(*parse_uid_batch(uid_batch_json(uids), 200), uids);
}

TEST(UidBatch, RejectsBadBodies) {
  for (const char* body : {"", "nope", "[]", "{}", R"({"uids":[]})", R"({"uids":"u1"})", R"({"uids":[1]})",
                           R"({"uids":["bad uid"]})", R"({"uids":["u1"]} trailing)", R"({"uids":["u1")"}) {
    EXPECT_FALSE(parse_uid_batch(body, 200)) << body;
  }
}

TEST(UidBatch, EnforcesTheMaximum) {
  EXPECT_TRUE(parse_uid_batch(R"({"uids":["a","b"]})", 2));
  auto too_many = parse_uid_batch(R"({"uids":["a","b","c"]})", 2);
  ASSERT_FALSE(too_many);
  EXPECT_NE(too_many.error().find("at most 2"), std::string::npos);
}

}  // namespace
}  // namespace micq::service
