#include "json_field.h"

#include <simdjson.h>

namespace micq::bench {

std::optional<std::int64_t> json_int_field(std::string& body, const char* name) {
  // One parser per thread: its buffers are kept for the next answer.
  thread_local simdjson::ondemand::parser parser;
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  simdjson::ondemand::document doc;
  std::int64_t value = 0;
  if (parser.iterate(simdjson::padded_string_view(body.data(), body.size(), body.capacity())).get(doc))
    return std::nullopt;
  if (doc[name].get_int64().get(value)) return std::nullopt;
  return value;
}

}  // namespace micq::bench
