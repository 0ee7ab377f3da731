#include "page_body.h"

#include <rapidjson/writer.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

#include "aggregator_answer.h"
#include "micq/service/json_splice.h"

namespace micq::serve {
namespace {

using BodyResult = boost::system::result<std::string, std::string>;

BodyResult body_error(std::string why) { return BodyResult(boost::system::in_place_error, std::move(why)); }

// A score as the integer SPEC §2 makes it. Events keep scores integers
// below 2^53; a score written into Redis by other means is rounded, and
// clamped to what an int64 holds.
std::int64_t score_as_integer(double score) {
  if (std::isnan(score)) return 0;
  constexpr double kLimit = 9223372036854775807.0;  // 2^63, as a double
  if (score >= kLimit) return std::numeric_limits<std::int64_t>::max();
  if (score <= -kLimit) return std::numeric_limits<std::int64_t>::min();
  return std::llround(score);
}

std::string write_fast(const PageRequest& request, const RankPage& page, const LocatedPrivileges& located,
                       std::size_t privileges_bytes) {
  std::string body;
  body.reserve(privileges_bytes + 128 + page.entries.size() * 96);
  service::StringOutput out(body);
  service::SplicingWriter writer(out);
  writer.StartObject();
  writer.Key("room_id");
  writer.String(request.room_id.data(), static_cast<rapidjson::SizeType>(request.room_id.size()));
  writer.Key("version");
  writer.Int64(page.version);
  writer.Key("total");
  writer.Int64(page.total);
  writer.Key("page");
  writer.Int(request.page);
  writer.Key("size");
  writer.Int(request.size);
  writer.Key("items");
  writer.StartArray();
  for (std::size_t i = 0; i < page.entries.size(); ++i) {
    const RankEntry& entry = page.entries[i];
    writer.StartObject();
    writer.Key("rank");
    writer.Int64(static_cast<std::int64_t>(request.page) * request.size + static_cast<std::int64_t>(i) + 1);
    writer.Key("uid");
    writer.String(entry.uid.data(), static_cast<rapidjson::SizeType>(entry.uid.size()));
    writer.Key("score");
    writer.Int64(score_as_integer(entry.score));
    writer.Key("privileges");
    if (located.records[i].empty()) {
      writer.StartObject();
      writer.EndObject();
    } else {
      writer.RawValue(located.records[i].data(), located.records[i].size(), rapidjson::kObjectType);
    }
    writer.EndObject();
  }
  writer.EndArray();
  writer.Key("degraded_kinds");
  writer.RawValue(located.degraded.data(), located.degraded.size(), rapidjson::kArrayType);
  writer.EndObject();
  return body;
}

BodyResult build_fast(const PageRequest& request, const RankPage& page, std::string& aggregator_body) {
  std::vector<std::string_view> uids;
  uids.reserve(page.entries.size());
  for (const auto& entry : page.entries) uids.push_back(entry.uid);
  LocatedPrivileges located;
  if (!locate_privileges(aggregator_body, uids, located))
    return body_error("the aggregator's answer is not the expected JSON");
  return BodyResult(boost::system::in_place_value,
                    write_fast(request, page, located, aggregator_body.size()));
}

std::string degraded_json(const std::vector<std::string>& kinds) {
  std::string out;
  service::StringOutput stream(out);
  rapidjson::Writer<service::StringOutput> writer(stream);
  writer.StartArray();
  for (const auto& kind : kinds) writer.String(kind.data(), static_cast<rapidjson::SizeType>(kind.size()));
  writer.EndArray();
  return out;
}

// The page's fields before its items.
nlohmann::json baseline_head(const PageRequest& request, const RankPage& page) {
  nlohmann::json body = nlohmann::json::object();
  body["room_id"] = std::string(request.room_id);
  body["version"] = page.version;
  body["total"] = page.total;
  body["page"] = request.page;
  body["size"] = request.size;
  return body;
}

nlohmann::json baseline_item(const PageRequest& request, const RankEntry& entry, std::size_t i) {
  nlohmann::json item = nlohmann::json::object();
  item["rank"] = static_cast<std::int64_t>(request.page) * request.size + static_cast<std::int64_t>(i) + 1;
  item["uid"] = entry.uid;
  item["score"] = score_as_integer(entry.score);
  return item;
}

BodyResult build_baseline(const PageRequest& request, const RankPage& page,
                          const std::string& aggregator_body) {
  nlohmann::json answer = aggregator_body.empty() ? nlohmann::json::object()
                                                  : nlohmann::json::parse(aggregator_body, nullptr, false);
  if (answer.is_discarded() || !answer.is_object()) return body_error("the aggregator's answer is not JSON");
  nlohmann::json body = baseline_head(request, page);
  nlohmann::json items = nlohmann::json::array();
  const nlohmann::json* users = answer.contains("users") ? &answer["users"] : nullptr;
  for (std::size_t i = 0; i < page.entries.size(); ++i) {
    const RankEntry& entry = page.entries[i];
    nlohmann::json item = baseline_item(request, entry, i);
    if (users && users->is_object() && users->contains(entry.uid)) {
      item["privileges"] = (*users)[entry.uid];
    } else {
      item["privileges"] = nlohmann::json::object();
    }
    items.push_back(std::move(item));
  }
  body["items"] = std::move(items);
  body["degraded_kinds"] =
      answer.contains("degraded_kinds") ? answer["degraded_kinds"] : nlohmann::json::array();
  return BodyResult(boost::system::in_place_value, body.dump());
}

}  // namespace

BodyResult assemble_page_body(JsonEngine engine, const PageRequest& request, const RankPage& page,
                              const std::vector<std::string_view>& privileges,
                              const std::vector<std::string>& degraded_kinds) {
  if (privileges.size() != page.entries.size())
    return body_error("one privileges object per entry is needed");
  if (engine == JsonEngine::kFast) {
    LocatedPrivileges located;
    located.records.reserve(privileges.size());
    std::size_t bytes = 0;
    for (std::string_view record : privileges) {
      located.records.push_back(record == "{}" ? std::string_view() : record);
      bytes += record.size();
    }
    std::string degraded = degraded_json(degraded_kinds);
    located.degraded = degraded;
    return BodyResult(boost::system::in_place_value, write_fast(request, page, located, bytes));
  }
  nlohmann::json body = baseline_head(request, page);
  nlohmann::json items = nlohmann::json::array();
  for (std::size_t i = 0; i < page.entries.size(); ++i) {
    nlohmann::json item = baseline_item(request, page.entries[i], i);
    nlohmann::json record = nlohmann::json::parse(privileges[i], nullptr, false);
    if (record.is_discarded() || !record.is_object())
      return body_error("a privileges record is not a JSON object");
    item["privileges"] = std::move(record);
    items.push_back(std::move(item));
  }
  body["items"] = std::move(items);
  body["degraded_kinds"] = degraded_kinds;
  return BodyResult(boost::system::in_place_value, body.dump());
}

BodyResult build_page_body(JsonEngine engine, const PageRequest& request, const RankPage& page,
                           std::string& aggregator_body) {
  return engine == JsonEngine::kFast ? build_fast(request, page, aggregator_body)
                                     : build_baseline(request, page, aggregator_body);
}

}  // namespace micq::serve
