// Fuzz target: the body of the sim's POST /admin/config through
// parse_config_update (services/sim/sim_config.h), the parse its handler
// runs.
//
// Invariants (SPEC §4): an accepted body gives a config that validate()
// accepts; settings the body does not name keep their current values;
// applying the same body again changes nothing; the endpoint's answer
// (config_json) reads back as the same config. A refusal is a sentence.
#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "check.h"
#include "services/sim/sim_config.h"

namespace {

using micq::sim::SimConfig;

bool same(const SimConfig& a, const SimConfig& b) {
  return a.payload_bytes == b.payload_bytes && a.latency_ms == b.latency_ms && a.jitter_ms == b.jitter_ms &&
         a.error_rate == b.error_rate && a.timeout_rate == b.timeout_rate;
}

// Whether the body (known to be a JSON object) names `key`.
bool names(std::string_view body, std::string_view key) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(body.data(), body.size()).get(object)) return false;
  for (auto field : object) {
    if (field.key == key) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  const SimConfig current{2048, 7, 3, 0.5, 0.25};  // none of them the flags' defaults
  auto next = micq::sim::parse_config_update(body, current);
  if (!next) {
    MICQ_FUZZ_CHECK(!next.error().empty() && next.error().back() == '.', next.error());
    return 0;
  }
  auto valid = micq::sim::validate(*next);
  MICQ_FUZZ_CHECK(valid.has_value(), valid ? std::string_view() : std::string_view(valid.error()));
  if (!names(body, "payload_bytes"))
    MICQ_FUZZ_CHECK(next->payload_bytes == current.payload_bytes, "payload_bytes");
  if (!names(body, "latency_ms")) MICQ_FUZZ_CHECK(next->latency_ms == current.latency_ms, "latency_ms");
  if (!names(body, "jitter_ms")) MICQ_FUZZ_CHECK(next->jitter_ms == current.jitter_ms, "jitter_ms");
  if (!names(body, "error_rate")) MICQ_FUZZ_CHECK(next->error_rate == current.error_rate, "error_rate");
  if (!names(body, "timeout_rate"))
    MICQ_FUZZ_CHECK(next->timeout_rate == current.timeout_rate, "timeout_rate");
  auto twice = micq::sim::parse_config_update(body, *next);
  MICQ_FUZZ_CHECK(twice && same(*twice, *next), "a second apply changed it");
  std::string answer = micq::sim::config_json(*next);
  auto back = micq::sim::parse_config_update(answer, SimConfig{});
  MICQ_FUZZ_CHECK(back && same(*back, *next), "answer " + answer + " reads back otherwise");
  return 0;
}
