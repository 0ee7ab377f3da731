#include "micq/service/kinds.h"

#include <gtest/gtest.h>

#include "micq/service/command.h"

namespace micq::service {
namespace {

TEST(Kinds, CountTakesTheFirstNames) {
  auto kinds = parse_kinds("3");
  ASSERT_TRUE(kinds);
  EXPECT_EQ(*kinds, (std::vector<std::string>{"avatar_frame", "certification", "medal"}));
  EXPECT_EQ(parse_kinds("24")->size(), 24u);
}

TEST(Kinds, ListTakesThoseNames) {
  auto kinds = parse_kinds("vip,medal");
  ASSERT_TRUE(kinds);
  EXPECT_EQ(*kinds, (std::vector<std::string>{"vip", "medal"}));
}

TEST(Kinds, RejectsUnknownZeroTooManyDuplicatesEmpty) {
  EXPECT_FALSE(parse_kinds("vip,dragon"));
  EXPECT_NE(parse_kinds("vip,dragon").error().find("dragon"), std::string::npos);
  EXPECT_FALSE(parse_kinds("0"));
  EXPECT_FALSE(parse_kinds("25"));
  EXPECT_FALSE(parse_kinds("vip,vip"));
  EXPECT_FALSE(parse_kinds(""));
  EXPECT_FALSE(parse_kinds("vip,"));
}

TEST(Flags, EnvNameIsUpperSnake) { EXPECT_EQ(env_name("max-stale-ms"), "MICQ_MAX_STALE_MS"); }

TEST(Flags, ListenParsesAddressAndPort) {
  auto endpoint = parse_listen("127.0.0.1:8080");
  ASSERT_TRUE(endpoint);
  EXPECT_EQ(endpoint->port(), 8080);
  EXPECT_TRUE(parse_listen("[::1]:0"));
  EXPECT_FALSE(parse_listen("127.0.0.1"));
  EXPECT_FALSE(parse_listen("localhost:80"));
  EXPECT_FALSE(parse_listen("127.0.0.1:99999"));
  EXPECT_FALSE(parse_listen("127.0.0.1:8o"));
}

}  // namespace
}  // namespace micq::service
