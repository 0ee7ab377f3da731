#include "merge.h"

#include <rapidjson/writer.h>
#include <simdjson.h>

#include "micq/service/json_splice.h"

namespace micq::aggregator {
namespace {

// Finds each requested uid's record text in one kind's answer. Returns
// false if the answer is not {"users":{...}} JSON. `raw` gets one view per
// uid (empty when the answer has no record for it), pointing into `body`.
bool locate_records(std::string& body, const std::vector<std::string>& uids,
                    std::vector<std::string_view>& raw) {
  thread_local simdjson::ondemand::parser parser;
  raw.assign(uids.size(), std::string_view());
  // On-demand parsing reads a little past the end: pad the body's own
  // buffer instead of copying it.
  std::size_t size = body.size();
  body.reserve(size + simdjson::SIMDJSON_PADDING);
  // On-demand parsing checks only what it visits, and records are spliced
  // as they are: without this a truncated answer, or a record such as
  // {"a":tru}, went through into invalid merged JSON. So the whole answer
  // is validated first, as serve validates the aggregator's.
  thread_local simdjson::dom::parser validator;
  if (validator.parse(body.data(), size, false).error()) return false;
  simdjson::ondemand::document doc;
  if (parser.iterate(simdjson::padded_string_view(body.data(), size, body.capacity())).get(doc)) return false;
  simdjson::ondemand::object users;
  if (doc["users"].get_object().get(users)) return false;
  std::size_t position = 0;
  for (auto field : users) {
    simdjson::ondemand::raw_json_string key;
    if (field.key().get(key)) return false;
    std::size_t index = service::find_uid(key, uids.size(), position,
                                          [&](std::size_t i) -> std::string_view { return uids[i]; });
    ++position;
    // A record is an object; its raw_json() is its exact source text.
    simdjson::ondemand::object record_object;
    if (field.value().get_object().get(record_object)) return false;
    std::string_view record;
    if (record_object.raw_json().get(record)) return false;
    if (index < uids.size()) {
      record = service::trim_json_right(record);
      if (record.empty() || record.front() != '{') return false;
      raw[index] = record;
    }
  }
  return true;
}

}  // namespace

std::string merge_privileges(const std::vector<std::string>& uids, std::vector<KindAnswer>& answers) {
  std::vector<std::vector<std::string_view>> records(answers.size());
  std::size_t total = 64;
  for (std::size_t k = 0; k < answers.size(); ++k) {
    if (answers[k].ok && !locate_records(answers[k].body, uids, records[k])) answers[k].ok = false;
    if (answers[k].ok) total += answers[k].body.size() + answers[k].kind.size() * uids.size() * 2;
  }
  std::string merged;
  merged.reserve(total);
  service::StringOutput out(merged);
  service::SplicingWriter writer(out);
  writer.StartObject();
  writer.Key("users");
  writer.StartObject();
  for (std::size_t u = 0; u < uids.size(); ++u) {
    writer.Key(uids[u].data(), static_cast<rapidjson::SizeType>(uids[u].size()));
    writer.StartObject();
    for (std::size_t k = 0; k < answers.size(); ++k) {
      if (!answers[k].ok || records[k][u].empty()) continue;
      writer.Key(answers[k].kind.data(), static_cast<rapidjson::SizeType>(answers[k].kind.size()));
      writer.RawValue(records[k][u].data(), records[k][u].size(), rapidjson::kObjectType);
    }
    writer.EndObject();
  }
  writer.EndObject();
  writer.Key("degraded_kinds");
  writer.StartArray();
  for (const KindAnswer& answer : answers) {
    if (!answer.ok) writer.String(answer.kind.data(), static_cast<rapidjson::SizeType>(answer.kind.size()));
  }
  writer.EndArray();
  writer.EndObject();
  return merged;
}

}  // namespace micq::aggregator
