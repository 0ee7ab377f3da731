#include "sim_config.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <cmath>

namespace micq::sim {

namespace {
constexpr const char* kPayloadRule = "payload_bytes must be 1..1048576";
}  // namespace

boost::system::result<void, std::string> validate(const SimConfig& config) {
  auto broken = [](const char* rule) {
    return boost::system::result<void, std::string>(boost::system::in_place_error, rule);
  };
  if (config.payload_bytes < 1 || config.payload_bytes > kMaxPayloadBytes) return broken(kPayloadRule);
  if (!(config.latency_ms >= 0 && config.latency_ms <= kMaxLatencyMs))
    return broken("latency_ms must be 0..60000");
  if (!(config.jitter_ms >= 0 && config.jitter_ms <= kMaxLatencyMs))
    return broken("jitter_ms must be 0..60000");
  if (!(config.error_rate >= 0 && config.error_rate <= 1)) return broken("error_rate must be 0..1");
  if (!(config.timeout_rate >= 0 && config.timeout_rate <= 1)) return broken("timeout_rate must be 0..1");
  return {};
}

boost::system::result<SimConfig, std::string> parse_config_update(std::string_view body,
                                                                  const SimConfig& current) {
  using Result = boost::system::result<SimConfig, std::string>;
  auto fail = [](std::string why) { return Result(boost::system::in_place_error, std::move(why)); };
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::object object;
  if (parser.parse(body.data(), body.size()).get(doc) || doc.get_object().get(object)) {
    return fail("The body must be a JSON object.");
  }
  SimConfig next = current;
  for (auto [key, value] : object) {
    double number;
    if (value.get_double().get(number)) {
      // Integers arrive as int64/uint64 in the DOM; accept them as numbers.
      std::int64_t integer;
      if (value.get_int64().get(integer)) return fail(std::string(key) + " must be a number.");
      number = static_cast<double>(integer);
    }
    if (key == "payload_bytes") {
      // A whole number in range before the conversion (out of range it
      // would be undefined); validate() below says the same of the result.
      if (number != std::floor(number) || number < 1 || number > static_cast<double>(kMaxPayloadBytes)) {
        return fail(std::string(kPayloadRule) + ".");
      }
      next.payload_bytes = static_cast<std::uint64_t>(number);
    } else if (key == "latency_ms") {
      next.latency_ms = number;
    } else if (key == "jitter_ms") {
      next.jitter_ms = number;
    } else if (key == "error_rate") {
      next.error_rate = number;
    } else if (key == "timeout_rate") {
      next.timeout_rate = number;
    } else {
      return fail("Unknown setting " + std::string(key) + ".");
    }
  }
  if (auto valid = validate(next); !valid) return fail(valid.error() + ".");
  return next;
}

std::string config_json(const SimConfig& config) {
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  writer.StartObject();
  writer.Key("payload_bytes");
  writer.Uint64(config.payload_bytes);
  writer.Key("latency_ms");
  writer.Double(config.latency_ms);
  writer.Key("jitter_ms");
  writer.Double(config.jitter_ms);
  writer.Key("error_rate");
  writer.Double(config.error_rate);
  writer.Key("timeout_rate");
  writer.Double(config.timeout_rate);
  writer.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

}  // namespace micq::sim
