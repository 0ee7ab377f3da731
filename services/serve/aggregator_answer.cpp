#include "aggregator_answer.h"

#include <simdjson.h>

#include "micq/service/json_splice.h"

namespace micq::serve {

bool locate_privileges(std::string& answer, const std::vector<std::string_view>& uids,
                       LocatedPrivileges& out) {
  out.records.assign(uids.size(), std::string_view());
  out.degraded = "[]";
  if (answer.empty()) return true;
  // On-demand parsing reads a little past the end: pad the answer's own
  // buffer instead of copying it.
  std::size_t size = answer.size();
  answer.reserve(size + simdjson::SIMDJSON_PADDING);
  thread_local simdjson::dom::parser validator;  // ~0.1 ms for a 240 KB batch
  if (validator.parse(answer.data(), size, false).error()) return false;
  thread_local simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  if (parser.iterate(simdjson::padded_string_view(answer.data(), size, answer.capacity())).get(doc))
    return false;
  simdjson::ondemand::object top;
  if (doc.get_object().get(top)) return false;
  for (auto field : top) {
    simdjson::ondemand::raw_json_string key;
    if (field.key().get(key)) return false;
    if (key.unsafe_is_equal("users")) {
      simdjson::ondemand::object users;
      if (field.value().get_object().get(users)) return false;
      std::size_t position = 0;
      for (auto user : users) {
        simdjson::ondemand::raw_json_string uid;
        if (user.key().get(uid)) return false;
        std::size_t index =
            service::find_uid(uid, uids.size(), position, [&](std::size_t i) { return uids[i]; });
        ++position;
        simdjson::ondemand::object record;
        if (user.value().get_object().get(record)) return false;
        std::string_view raw;
        if (record.raw_json().get(raw)) return false;
        if (index < uids.size()) out.records[index] = service::trim_json_right(raw);
      }
    } else if (key.unsafe_is_equal("degraded_kinds")) {
      simdjson::ondemand::array kinds;
      if (field.value().get_array().get(kinds)) return false;
      std::string_view raw;
      if (kinds.raw_json().get(raw)) return false;
      out.degraded = service::trim_json_right(raw);
    }
  }
  return true;
}

std::optional<std::vector<std::string>> kind_names(std::string_view raw_array) {
  std::vector<std::string> names;
  if (raw_array == "[]") return names;
  simdjson::padded_string padded(raw_array);
  thread_local simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  simdjson::ondemand::array kinds;
  if (parser.iterate(padded).get(doc) || doc.get_array().get(kinds)) return std::nullopt;
  for (auto kind : kinds) {
    std::string_view name;
    if (kind.get_string().get(name)) return std::nullopt;
    names.emplace_back(name);
  }
  return names;
}

}  // namespace micq::serve
