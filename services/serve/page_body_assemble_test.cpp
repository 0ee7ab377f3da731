// The page body assembled from per-user records (assemble_page_body) against
// the body built from one aggregator answer (build_page_body), and the split
// of an answer into those records (split_privileges, PrivilegeSource::
// records).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "page_body.h"
#include "privilege_source.h"
#include "services/serve/testing/sample_page.h"

namespace micq::serve {
namespace {

namespace asio = boost::asio;
using Json = nlohmann::json;

using testing::sample_page;

std::vector<std::string> uids_of(const RankPage& page) {
  std::vector<std::string> uids;
  for (const RankEntry& entry : page.entries) uids.push_back(entry.uid);
  return uids;
}

// u3 and u7 answered out of page order, u1 with no kind, u9 not on the page.
std::string sample_answer() {
  return R"({"users":{"u3":{"medal":{"x":[1,2]}},"u7":{"vip":{"level":3,"t":"a\"b"}},"u1":{},)"
         R"("u9":{"vip":{"level":1}}},"degraded_kinds":["badge","car"]})";
}

// The records the sample answer holds for the sample page, as the cache
// keeps them.
std::vector<std::string> sample_records() {
  return {R"({"vip":{"level":3,"t":"a\"b"}})", R"({"medal":{"x":[1,2]}})", "{}"};
}

std::vector<std::string_view> views(const std::vector<std::string>& records) {
  return std::vector<std::string_view>(records.begin(), records.end());
}

const JsonEngine kEngines[] = {JsonEngine::kFast, JsonEngine::kBaseline};

const char* name_of(JsonEngine engine) { return engine == JsonEngine::kFast ? "fast" : "baseline"; }

TEST(AssemblePageBody, SameJsonAsTheBodyBuiltFromTheWholeAnswer) {
  const PageRequest request{"r1", 2, 3};
  std::vector<std::string> records = sample_records();
  for (JsonEngine engine : kEngines) {
    std::string answer = sample_answer();
    auto built = build_page_body(engine, request, sample_page(), answer);
    auto assembled = assemble_page_body(engine, request, sample_page(), views(records), {"badge", "car"});
    ASSERT_TRUE(built) << built.error();
    ASSERT_TRUE(assembled) << assembled.error();
    EXPECT_EQ(Json::parse(*assembled), Json::parse(*built)) << name_of(engine);
  }
}

TEST(AssemblePageBody, FastAndBaselineAgree) {
  const PageRequest request{"r1", 0, 10};
  std::vector<std::string> records = sample_records();
  auto fast = assemble_page_body(JsonEngine::kFast, request, sample_page(), views(records), {"badge"});
  auto baseline =
      assemble_page_body(JsonEngine::kBaseline, request, sample_page(), views(records), {"badge"});
  ASSERT_TRUE(fast && baseline);
  EXPECT_EQ(Json::parse(*fast), Json::parse(*baseline));
}

TEST(AssemblePageBody, MatchesTheBodyBuiltFromTheRecordsSplitOutOfTheAnswer) {
  const PageRequest request{"r1", 0, 10};
  RankPage page = sample_page();
  std::string to_split = sample_answer();
  auto split = split_privileges(to_split, uids_of(page));
  ASSERT_TRUE(split) << split.error();
  std::vector<std::string> records;
  for (const PrivilegeRecord& record : *split) records.push_back(record.json);
  ASSERT_TRUE((*split)[0].degraded);
  for (JsonEngine engine : kEngines) {
    std::string answer = sample_answer();
    auto built = build_page_body(engine, request, page, answer);
    auto assembled = assemble_page_body(engine, request, page, views(records), *(*split)[0].degraded);
    ASSERT_TRUE(built && assembled) << name_of(engine);
    EXPECT_EQ(Json::parse(*assembled), Json::parse(*built)) << name_of(engine);
  }
}

TEST(AssemblePageBody, FastSplicesTheRecordTextUnchanged) {
  std::vector<std::string> records = {R"({"vip":{"level":3,  "t":"a\"b"}})", "{}", "{}"};
  auto body = assemble_page_body(JsonEngine::kFast, {"r1", 0, 10}, sample_page(), views(records), {});
  ASSERT_TRUE(body) << body.error();
  EXPECT_NE(body->find(R"("privileges":{"vip":{"level":3,  "t":"a\"b"}})"), std::string::npos) << *body;
}

TEST(AssemblePageBody, EmptyRecordsGiveEmptyPrivilegesObjects) {
  std::vector<std::string> records = {"{}", "{}", "{}"};
  for (JsonEngine engine : kEngines) {
    auto body = assemble_page_body(engine, {"r1", 0, 10}, sample_page(), views(records), {});
    ASSERT_TRUE(body) << name_of(engine) << ": " << body.error();
    Json doc = Json::parse(*body);
    ASSERT_EQ(doc["items"].size(), 3u);
    for (const Json& item : doc["items"]) {
      EXPECT_EQ(item["privileges"], Json::object()) << name_of(engine);
    }
  }
}

TEST(AssemblePageBody, DegradedKindsAppearAsGiven) {
  std::vector<std::string> records = sample_records();
  for (JsonEngine engine : kEngines) {
    auto some = assemble_page_body(engine, {"r1", 0, 10}, sample_page(), views(records), {"car", "badge"});
    auto none = assemble_page_body(engine, {"r1", 0, 10}, sample_page(), views(records), {});
    ASSERT_TRUE(some && none) << name_of(engine);
    EXPECT_EQ(Json::parse(*some)["degraded_kinds"], Json::array({"car", "badge"})) << name_of(engine);
    EXPECT_EQ(Json::parse(*none)["degraded_kinds"], Json::array()) << name_of(engine);
  }
}

TEST(AssemblePageBody, EmptyPageMatchesTheBodyBuiltWithoutAnAggregatorCall) {
  for (JsonEngine engine : kEngines) {
    std::string no_answer;
    auto built = build_page_body(engine, {"empty", 0, 10}, RankPage{}, no_answer);
    auto assembled = assemble_page_body(engine, {"empty", 0, 10}, RankPage{}, {}, {});
    ASSERT_TRUE(built && assembled) << name_of(engine);
    EXPECT_EQ(Json::parse(*assembled), Json::parse(*built)) << name_of(engine);
  }
}

TEST(AssemblePageBody, MismatchedNumberOfRecordsIsAnError) {
  std::vector<std::string> two = {"{}", "{}"};
  std::vector<std::string> four = {"{}", "{}", "{}", "{}"};
  for (JsonEngine engine : kEngines) {
    EXPECT_FALSE(assemble_page_body(engine, {"r1", 0, 10}, sample_page(), views(two), {})) << name_of(engine);
    EXPECT_FALSE(assemble_page_body(engine, {"r1", 0, 10}, sample_page(), views(four), {}))
        << name_of(engine);
  }
}

TEST(SplitPrivileges, EachUidGetsItsOwnObjectText) {
  std::string answer = sample_answer();
  auto split = split_privileges(answer, {"u7", "u3", "u1"});
  ASSERT_TRUE(split) << split.error();
  ASSERT_EQ(split->size(), 3u);
  EXPECT_EQ((*split)[0].json, R"({"vip":{"level":3,"t":"a\"b"}})");
  EXPECT_EQ((*split)[1].json, R"({"medal":{"x":[1,2]}})");
  EXPECT_EQ((*split)[2].json, "{}");
}

TEST(SplitPrivileges, ObjectTextEndsAtItsClosingBrace) {
  std::string answer = R"({ "users" : { "u1" : { "vip" : 1 } ,  "u2" : {"a":{}}
                          } })";
  auto split = split_privileges(answer, {"u1", "u2"});
  ASSERT_TRUE(split) << split.error();
  EXPECT_EQ((*split)[0].json, R"({ "vip" : 1 })");
  EXPECT_EQ((*split)[1].json, R"({"a":{}})");
}

TEST(SplitPrivileges, UidAbsentFromTheAnswerGetsAnEmptyObject) {
  std::string answer = R"({"users":{"u7":{"vip":{}}},"degraded_kinds":[]})";
  auto split = split_privileges(answer, {"u1", "u7", "u2"});
  ASSERT_TRUE(split) << split.error();
  ASSERT_EQ(split->size(), 3u);
  EXPECT_EQ((*split)[0].json, "{}");
  EXPECT_EQ((*split)[1].json, R"({"vip":{}})");
  EXPECT_EQ((*split)[2].json, "{}");
}

TEST(SplitPrivileges, AnswerWithoutUsersGivesEveryUidAnEmptyObject) {
  std::string answer = R"({"degraded_kinds":["vip"]})";
  auto split = split_privileges(answer, {"u1", "u2"});
  ASSERT_TRUE(split) << split.error();
  EXPECT_EQ((*split)[0].json, "{}");
  EXPECT_EQ((*split)[1].json, "{}");
}

TEST(SplitPrivileges, DegradedKindsAreSharedByEveryRecord) {
  std::string answer = sample_answer();
  auto split = split_privileges(answer, {"u7", "u3", "u1"});
  ASSERT_TRUE(split) << split.error();
  for (const PrivilegeRecord& record : *split) {
    ASSERT_TRUE(record.degraded);
    EXPECT_EQ(*record.degraded, (std::vector<std::string>{"badge", "car"}));
    EXPECT_EQ(record.degraded.get(), (*split)[0].degraded.get()) << "one list for the batch";
  }
}

TEST(SplitPrivileges, NoDegradedKindsGivesNoList) {
  for (std::string answer :
       {std::string(R"({"users":{"u1":{}},"degraded_kinds":[]})"), std::string(R"({"users":{}})")}) {
    auto split = split_privileges(answer, {"u1"});
    ASSERT_TRUE(split) << answer;
    EXPECT_FALSE((*split)[0].degraded) << answer;
  }
}

TEST(SplitPrivileges, MalformedAnswerIsAnError) {
  const char* malformed[] = {
      "",
      "nope",
      "[]",
      R"({"users":[1]})",
      R"({"users":{"u1":3}})",
      R"({"users":{"u1":"vip"}})",
      R"({"users":{"u1":{"vip":1}})",
      R"({"users":{"u1":{"vip":1}},"degraded_kinds":[1]})",
      R"({"users":{"u1":{"vip":1}},"degraded_kinds":"vip"})",
      R"({"users":{"u1":{"vip":)",
  };
  for (const char* bad : malformed) {
    std::string answer = bad;
    auto split = split_privileges(answer, {"u1"});
    EXPECT_FALSE(split) << "accepted: " << bad;
  }
}

// Regression: split_privileges took each user's object with simdjson's
// raw_json(), which skips over the object without validating what is inside
// it, so a record such as {"vip":tru} was accepted, cached as the user's
// record for a TTL, and spliced by the fast engine into a page body that is
// not JSON (while the baseline engine rejected it).
TEST(SplitPrivileges, MalformedRecordInsideAUserIsAnError) {
  const char* malformed[] = {
      R"({"users":{"u1":{"vip":tru}}})",
      R"({"users":{"u1":{"vip":1,}}})",
      R"({"users":{"u1":{}}}})",
      R"({"users":{"u1":{}}} x)",
  };
  for (const char* bad : malformed) {
    std::string answer = bad;
    auto split = split_privileges(answer, {"u1"});
    EXPECT_FALSE(split) << "accepted: " << bad;
    if (!split) continue;
    RankPage page;
    page.entries = {{"u1", 1}};
    std::vector<std::string> records = {(*split)[0].json};
    auto body = assemble_page_body(JsonEngine::kFast, {"r1", 0, 10}, page, views(records), {});
    ASSERT_TRUE(body);
    EXPECT_TRUE(Json::accept(*body)) << "the page served: " << *body;
  }
}

// The same bug in the body built from one answer: the fast engine splices
// what it locates, so it must not locate a malformed record.
TEST(BuildPageBody, FastRejectsAMalformedRecordInsideAUser) {
  RankPage page;
  page.entries = {{"u1", 1}};
  for (const char* bad : {R"({"users":{"u1":{"vip":tru}}})", R"({"users":{"u1":{"vip":1,}}})"}) {
    std::string answer = bad;
    auto body = build_page_body(JsonEngine::kFast, {"r1", 0, 10}, page, answer);
    EXPECT_FALSE(body) << "accepted " << bad << ", served " << (body ? *body : std::string());
  }
}

// A source whose raw batches are answered at once from `answer_for`.
class CannedBatches final : public PrivilegeSource {
 public:
  std::vector<std::vector<std::string>> asked;
  bool fail = false;
  bool malformed = false;

  asio::awaitable<ApiResult<std::string>> batch_body(std::vector<std::string> uids) override {
    asked.push_back(uids);
    if (fail) co_return ApiError::unavailable("aggregator_unavailable", "The fake aggregator is down.");
    if (malformed) co_return std::string("{\"users\":[]}");
    std::string answer = "{\"users\":{";
    for (std::size_t i = 0; i < uids.size(); ++i) {
      if (i > 0) answer += ",";
      answer += "\"" + uids[i] + "\":{\"vip\":{\"uid\":\"" + uids[i] + "\"}}";
    }
    answer += "}}";
    co_return answer;
  }
};

ApiResult<std::vector<PrivilegeRecord>> records_of(PrivilegeSource& source, std::vector<std::string> uids) {
  asio::io_context ctx;
  std::optional<ApiResult<std::vector<PrivilegeRecord>>> out;
  asio::co_spawn(
      ctx,
      [&source, &out, uids = std::move(uids)]() mutable -> asio::awaitable<void> {
        auto call = source.records(std::move(uids), RecordsScope{});
        out = co_await std::move(call);
      },
      asio::detached);
  ctx.run();
  EXPECT_TRUE(out.has_value());
  if (!out) return ApiError::unavailable("test", "records() did not complete");
  return std::move(*out);
}

TEST(PrivilegeSourceRecords, SplitsUidsIntoBatchesOfTheAggregatorLimitInOrder) {
  CannedBatches source;
  std::vector<std::string> uids;
  for (int i = 0; i < 450; ++i) uids.push_back("u" + std::to_string(i));
  auto records = records_of(source, uids);
  ASSERT_TRUE(records) << records.error().message;
  ASSERT_EQ(source.asked.size(), 3u);
  EXPECT_EQ(source.asked[0].size(), kMaxBatchUids);
  EXPECT_EQ(source.asked[1].size(), kMaxBatchUids);
  EXPECT_EQ(source.asked[2].size(), 50u);
  EXPECT_EQ(source.asked[1].front(), "u200");
  ASSERT_EQ(records->size(), 450u);
  for (std::size_t i = 0; i < uids.size(); ++i) {
    EXPECT_EQ(Json::parse((*records)[i].json)["vip"]["uid"], uids[i]);
  }
}

TEST(PrivilegeSourceRecords, FailedBatchIsTheError) {
  CannedBatches source;
  source.fail = true;
  auto records = records_of(source, {"u1"});
  ASSERT_FALSE(records);
  EXPECT_EQ(records.error().code, "aggregator_unavailable");
}

TEST(PrivilegeSourceRecords, MalformedBatchIsAnErrorAndCounted) {
  CannedBatches source;
  source.malformed = true;
  auto records = records_of(source, {"u1"});
  ASSERT_FALSE(records);
  EXPECT_EQ(records.error().code, "aggregator_unavailable");
  EXPECT_EQ(source.errors(), 1u);
}

}  // namespace
}  // namespace micq::serve
