#include "request_parsing.h"

#include <gtest/gtest.h>

namespace micq::serve {
namespace {

TEST(PageQuery, DefaultsAndValues) {
  auto q = parse_page_query("", 10, 50);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->page, 0);
  EXPECT_EQ(q->size, 10);
  q = parse_page_query("page=999&size=50&other=x", 10, 50);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->page, 999);
  EXPECT_EQ(q->size, 50);
}

TEST(PageQuery, BadValuesNameTheParameter) {
  for (const char* query :
       {"page=-1", "page=1000", "page=x", "page=", "page", "page=1.5", "page=+1", "page=1&page=2"}) {
    auto q = parse_page_query(query, 10, 50);
    ASSERT_FALSE(q) << query;
    EXPECT_EQ(q.error().parameter, "page") << query;
  }
  for (const char* query : {"size=0", "size=51", "size=abc", "size= 5"}) {
    auto q = parse_page_query(query, 10, 50);
    ASSERT_FALSE(q) << query;
    EXPECT_EQ(q.error().parameter, "size") << query;
  }
}

TEST(Events, SingleEventAndBatch) {
  auto one = parse_events(R"({"type":"gift","uid":"u1","value":100})");
  ASSERT_TRUE(one) << one.error();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].type, EventType::kGift);
  EXPECT_EQ((*one)[0].increment, 100);
  auto batch = parse_events(
      R"({"events":[{"type":"enter","uid":"a"},{"type":"chat","uid":"a"},)"
      R"({"type":"share","uid":"b"},{"type":"exit","uid":"c"},{"type":"privilege","uid":"d"}]})");
  ASSERT_TRUE(batch) << batch.error();
  ASSERT_EQ(batch->size(), 5u);
  EXPECT_EQ((*batch)[1].increment, 1);
  EXPECT_EQ((*batch)[2].increment, 5);
  EXPECT_EQ((*batch)[4].type, EventType::kPrivilege);
}

TEST(Events, EveryBadInputIsRejected) {
  for (const char* body :
       {"", "[]", "{}", R"({"type":"dance","uid":"u1"})", R"({"type":"gift","uid":"u1"})",
        R"({"type":"gift","uid":"u1","value":0})", R"({"type":"gift","uid":"u1","value":1000000001})",
        R"({"type":"gift","uid":"u1","value":1.5})", R"({"type":"gift","uid":"u1","value":"5"})",
        R"({"type":"enter","uid":"bad uid"})", R"({"type":"enter"})", R"({"events":[]})", R"({"events":{}})",
        R"({"events":[{"type":"enter","uid":"a"},{"type":"enter","uid":""}]})"}) {
    EXPECT_FALSE(parse_events(body)) << body;
  }
}

TEST(Events, AnUnknownTypeIsNamedWithEveryKnownOne) {
  auto parsed = parse_events(R"({"type":"dance","uid":"u1"})");
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error(), "event 0: type must be one of enter, exit, gift, chat, share, privilege.");
}

TEST(Events, AtMostAThousand) {
  std::string body = R"({"events":[)";
  for (int i = 0; i < 1001; ++i) body += std::string(i ? "," : "") + R"({"type":"chat","uid":"u"})";
  EXPECT_FALSE(parse_events(body + "]}"));
  body = R"({"events":[)";
  for (int i = 0; i < 1000; ++i) body += std::string(i ? "," : "") + R"({"type":"chat","uid":"u"})";
  EXPECT_TRUE(parse_events(body + "]}"));
}

TEST(Idempotency, KeyRule) {
  EXPECT_TRUE(is_valid_idempotency_key("abc-123 x"));
  EXPECT_TRUE(is_valid_idempotency_key(std::string(128, 'k')));
  EXPECT_FALSE(is_valid_idempotency_key(""));
  EXPECT_FALSE(is_valid_idempotency_key(std::string(129, 'k')));
  EXPECT_FALSE(is_valid_idempotency_key("tab\there"));
}

TEST(Token, ComparesWholeStrings) {
  EXPECT_TRUE(token_matches("secret", "secret"));
  EXPECT_FALSE(token_matches("secreT", "secret"));
  EXPECT_FALSE(token_matches("secret2", "secret"));
  EXPECT_FALSE(token_matches("", "secret"));
  EXPECT_FALSE(token_matches("", ""));
}

}  // namespace
}  // namespace micq::serve
