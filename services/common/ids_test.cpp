#include "micq/service/ids.h"

#include <gtest/gtest.h>

#include <string>

namespace micq::service {
namespace {

TEST(Ids, FollowTheSpecRule) {
  EXPECT_TRUE(is_valid_id("u1"));
  EXPECT_TRUE(is_valid_id("A-z_0.9"));
  EXPECT_TRUE(is_valid_id(std::string(64, 'a')));
  EXPECT_FALSE(is_valid_id(std::string(65, 'a')));
  EXPECT_FALSE(is_valid_id(""));
  EXPECT_FALSE(is_valid_id("u 1"));
  EXPECT_FALSE(is_valid_id("u/1"));
  EXPECT_FALSE(is_valid_id("ü"));
}

TEST(Ids, TheMessageNamesWhatAndTheRule) {
  EXPECT_EQ(invalid_id_message("room_id"), "room_id must be 1 to 64 characters of [A-Za-z0-9_.-].");
}

}  // namespace
}  // namespace micq::service
