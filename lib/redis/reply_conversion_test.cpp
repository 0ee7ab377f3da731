#include "micq/redis/internal/reply_conversion.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace micq::redis::internal {
namespace {

// Feeds `bytes` and takes one reply: REDIS_OK with `reply` set, REDIS_OK
// with it null (more bytes needed), or REDIS_ERR.
int read_one(redisReader* reader, std::string_view bytes, Reply& reply, bool& complete) {
  complete = false;
  if (redisReaderFeed(reader, bytes.data(), bytes.size()) != REDIS_OK) return REDIS_ERR;
  void* raw = nullptr;
  if (redisReaderGetReply(reader, &raw) != REDIS_OK) return REDIS_ERR;
  if (raw == nullptr) return REDIS_OK;
  std::optional<Reply> converted = convert_reply(*static_cast<redisReply*>(raw));
  complete = converted.has_value();
  if (converted) reply = std::move(*converted);
  freeReplyObject(raw);
  return REDIS_OK;
}

TEST(ReplyReader, ConvertsNestedArrays) {
  ReplyReader reader = make_reply_reader();
  Reply reply;
  bool complete;
  ASSERT_EQ(read_one(reader.get(), "*3\r\n$2\r\nu7\r\n:-5\r\n*2\r\n+OK\r\n$-1\r\n", reply, complete),
            REDIS_OK);
  ASSERT_TRUE(complete);
  ASSERT_EQ(reply.type, Reply::Type::kArray);
  ASSERT_EQ(reply.elements.size(), 3u);
  EXPECT_EQ(reply.elements[0].str, "u7");
  EXPECT_EQ(reply.elements[1].integer, -5);
  EXPECT_EQ(reply.elements[2].elements[0].type, Reply::Type::kStatus);
  EXPECT_EQ(reply.elements[2].elements[1].type, Reply::Type::kNil);
}

// Found by fuzz/redis_reply_fuzz.cpp: the header "*872375030\r\n" alone
// made hiredis calloc 7 GB for the element table.
TEST(ReplyReader, ArrayHeaderOverTheCapIsRefusedBeforeItsElementsArrive) {
  ReplyReader reader = make_reply_reader();
  Reply reply;
  bool complete;
  EXPECT_EQ(read_one(reader.get(), "*872375030\r\n", reply, complete), REDIS_ERR);
  ReplyReader nested = make_reply_reader();
  EXPECT_EQ(
      read_one(nested.get(), "*1\r\n*" + std::to_string(kMaxReplyElements + 1) + "\r\n", reply, complete),
      REDIS_ERR);
}

TEST(ReplyReader, ArrayHeaderAtTheCapWaitsForItsElements) {
  ReplyReader reader = make_reply_reader();
  Reply reply;
  bool complete;
  EXPECT_EQ(read_one(reader.get(), "*" + std::to_string(kMaxReplyElements) + "\r\n", reply, complete),
            REDIS_OK);
  EXPECT_FALSE(complete);
}

}  // namespace
}  // namespace micq::redis::internal
