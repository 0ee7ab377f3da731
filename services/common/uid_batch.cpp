#include "micq/service/uid_batch.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include "micq/service/ids.h"

namespace micq::service {

boost::system::result<std::vector<std::string>, std::string> parse_uid_batch(std::string_view body,
                                                                             std::size_t max_uids) {
  using Result = boost::system::result<std::vector<std::string>, std::string>;
  auto fail = [](std::string why) { return Result(boost::system::in_place_error, std::move(why)); };
  // DOM parsing validates the whole document (trailing bytes included);
  // request bodies are small, so its one pass costs nothing that matters.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc)) return fail("The body is not JSON.");
  simdjson::dom::object object;
  if (doc.get_object().get(object)) return fail("The body must be a JSON object with \"uids\".");
  simdjson::dom::element uids_element;
  if (object["uids"].get(uids_element)) return fail("The body needs \"uids\".");
  simdjson::dom::array array;
  if (uids_element.get_array().get(array)) return fail("\"uids\" must be an array of strings.");
  std::vector<std::string> uids;
  for (simdjson::dom::element element : array) {
    std::string_view uid;
    if (element.get_string().get(uid)) return fail("\"uids\" must be an array of strings.");
    if (!is_valid_id(uid)) return fail(invalid_id_message("Each uid"));
    if (uids.size() == max_uids) {
      return fail("\"uids\" may hold at most " + std::to_string(max_uids) + " uids.");
    }
    uids.emplace_back(uid);
  }
  if (uids.empty()) return fail("\"uids\" must hold at least one uid.");
  return uids;
}

std::string uid_batch_json(const std::vector<std::string>& uids) {
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  writer.StartObject();
  writer.Key("uids");
  writer.StartArray();
  for (const auto& uid : uids) writer.String(uid.data(), static_cast<rapidjson::SizeType>(uid.size()));
  writer.EndArray();
  writer.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

}  // namespace micq::service
