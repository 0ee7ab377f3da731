// Fuzz target: the body of POST /v1/rooms/{room_id}/events through
// parse_events (services/serve/request_parsing.h), and the same bytes as an
// Idempotency-Key through is_valid_idempotency_key.
//
// Invariants (SPEC §2): an accepted body holds 1..1000 events, each with a
// valid uid and the score change its type makes (gift 1..1000000000, chat 1,
// share 5, the others 0); writing the events back as {"events":[...]} and
// parsing that gives the same events; a key is accepted exactly when it is
// 1..128 printable ASCII characters.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "check.h"
#include "micq/service/event_types.h"
#include "micq/service/ids.h"
#include "services/serve/request_parsing.h"

namespace {

using micq::serve::Event;
using micq::serve::EventType;

void check_event(const Event& event) {
  MICQ_FUZZ_CHECK(micq::service::is_valid_id(event.uid), "uid '" + event.uid + "'");
  std::int64_t change = event.increment;
  switch (event.type) {
    case EventType::kGift:
      MICQ_FUZZ_CHECK(change >= 1 && change <= 1'000'000'000, "gift of " + std::to_string(change));
      break;
    case EventType::kChat:
      MICQ_FUZZ_CHECK(change == 1, "chat adds " + std::to_string(change));
      break;
    case EventType::kShare:
      MICQ_FUZZ_CHECK(change == 5, "share adds " + std::to_string(change));
      break;
    default:
      MICQ_FUZZ_CHECK(change == 0,
                      std::string(micq::service::name_of(micq::service::kEventTypeNames, event.type)) +
                          " adds " + std::to_string(change));
  }
}

std::string events_json(const std::vector<Event>& events) {
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  writer.StartObject();
  writer.Key("events");
  writer.StartArray();
  for (const Event& event : events) {
    std::string_view type = micq::service::name_of(micq::service::kEventTypeNames, event.type);
    writer.StartObject();
    writer.Key("type");
    writer.String(type.data(), static_cast<rapidjson::SizeType>(type.size()));
    writer.Key("uid");
    writer.String(event.uid.data(), static_cast<rapidjson::SizeType>(event.uid.size()));
    if (event.type == EventType::kGift) {
      writer.Key("value");
      writer.Int64(event.increment);
    }
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

bool same(const std::vector<Event>& a, const std::vector<Event>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].type != b[i].type || a[i].uid != b[i].uid || a[i].increment != b[i].increment) return false;
  }
  return true;
}

void check_idempotency_key(std::string_view key) {
  bool printable = !key.empty() && key.size() <= 128;
  for (char c : key) printable = printable && c >= 0x20 && c <= 0x7e;
  MICQ_FUZZ_CHECK(micq::serve::is_valid_idempotency_key(key) == printable,
                  "key of " + std::to_string(key.size()) + " bytes");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  check_idempotency_key(body);
  auto events = micq::serve::parse_events(body);
  if (!events) {
    MICQ_FUZZ_CHECK(!events.error().empty(), "a refusal says why");
    return 0;
  }
  MICQ_FUZZ_CHECK(!events->empty() && events->size() <= 1000, std::to_string(events->size()) + " events");
  for (const Event& event : *events) check_event(event);
  std::string written = events_json(*events);
  auto again = micq::serve::parse_events(written);
  MICQ_FUZZ_CHECK(again && same(*events, *again), "written back: " + written);
  return 0;
}
