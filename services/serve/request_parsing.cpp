#include "request_parsing.h"

#include <simdjson.h>

#include <charconv>
#include <optional>

#include "micq/service/ids.h"

namespace micq::serve {

namespace {

using QueryResult = boost::system::result<PageQuery, QueryError>;
using EventsResult = boost::system::result<std::vector<Event>, std::string>;

QueryResult query_error(std::string parameter, std::string message) {
  return QueryResult(boost::system::in_place_error, QueryError{std::move(parameter), std::move(message)});
}

EventsResult events_error(std::string message) {
  return EventsResult(boost::system::in_place_error, std::move(message));
}

// Decimal digits only (no sign, no spaces), within [low, high]; nullopt
// otherwise (the caller words the message, which names its parameter).
std::optional<int> parse_bounded(std::string_view text, int low, int high) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  int value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  if (value < low || value > high) return std::nullopt;
  return value;
}

// "type must be one of enter, exit, gift, chat, share, privilege."
const std::string& unknown_type_message() {
  static const std::string message = [] {
    std::string text = "type must be one of ";
    for (const auto& named : service::kEventTypeNames) {
      if (named.value != service::kEventTypeNames.front().value) text += ", ";
      text += named.name;
    }
    return text + ".";
  }();
  return message;
}

constexpr std::size_t kMaxEvents = 1000;
constexpr std::int64_t kMaxGift = 1'000'000'000;

boost::system::result<Event, std::string> parse_event(simdjson::dom::element element, std::size_t index) {
  using Result = boost::system::result<Event, std::string>;
  std::string where = "event " + std::to_string(index) + ": ";
  auto fail = [&](std::string why) { return Result(boost::system::in_place_error, where + why); };
  simdjson::dom::object object;
  if (element.get_object().get(object)) return fail("must be an object.");
  std::string_view type, uid;
  if (object["type"].get_string().get(type)) return fail("needs a string \"type\".");
  if (object["uid"].get_string().get(uid)) return fail("needs a string \"uid\".");
  if (!service::is_valid_id(uid)) return fail(service::invalid_id_message("uid"));
  std::optional<EventType> known = service::value_named(service::kEventTypeNames, type);
  if (!known) return fail(unknown_type_message());
  Event event{*known, std::string(uid), 0};
  switch (event.type) {
    case EventType::kGift: {
      simdjson::dom::element value;
      if (object["value"].get(value)) return fail("a gift needs \"value\".");
      std::int64_t coins;
      if (!value.is_int64() || value.get_int64().get(coins) || coins < 1 || coins > kMaxGift) {
        return fail("gift value must be an integer 1..1000000000.");
      }
      event.increment = coins;
      break;
    }
    case EventType::kChat:
      event.increment = 1;
      break;
    case EventType::kShare:
      event.increment = 5;
      break;
    case EventType::kEnter:
    case EventType::kExit:
    case EventType::kPrivilege:
      break;
  }
  return event;
}

}  // namespace

QueryResult parse_page_query(std::string_view query, int default_size, int max_size) {
  PageQuery parsed{0, default_size};
  bool seen_page = false, seen_size = false;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    std::string_view name = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (name == "page") {
      if (seen_page) return query_error("page", "page is given more than once.");
      seen_page = true;
      std::optional<int> page = parse_bounded(value, 0, 999);
      if (!page) return query_error("page", "page must be an integer 0..999.");
      parsed.page = *page;
    } else if (name == "size") {
      if (seen_size) return query_error("size", "size is given more than once.");
      seen_size = true;
      std::optional<int> size = parse_bounded(value, 1, max_size);
      if (!size) return query_error("size", "size must be an integer 1.." + std::to_string(max_size) + ".");
      parsed.size = *size;
    }
  }
  return parsed;
}

EventsResult parse_events(std::string_view body) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc)) return events_error("The body is not valid JSON.");
  simdjson::dom::object object;
  if (doc.get_object().get(object)) return events_error("The body must be an event or {\"events\":[...]}.");
  std::vector<Event> events;
  simdjson::dom::element list;
  if (object["events"].get(list) == simdjson::SUCCESS) {
    simdjson::dom::array array;
    if (list.get_array().get(array)) return events_error("\"events\" must be an array.");
    if (array.size() == 0 || array.size() > kMaxEvents)
      return events_error("\"events\" must hold 1..1000 events.");
    events.reserve(array.size());
    std::size_t index = 0;
    for (simdjson::dom::element element : array) {
      auto event = parse_event(element, index++);
      if (!event) return events_error(event.error());
      events.push_back(std::move(*event));
    }
    return events;
  }
  auto event = parse_event(doc, 0);
  if (!event) return events_error(event.error());
  events.push_back(std::move(*event));
  return events;
}

bool is_valid_idempotency_key(std::string_view key) {
  if (key.empty() || key.size() > 128) return false;
  for (char c : key) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

bool token_matches(std::string_view presented, std::string_view expected) {
  // Always walk the expected token's full length, so the time taken does not
  // tell an attacker how many leading characters were right.
  unsigned char difference = presented.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    char p = i < presented.size() ? presented[i] : 0;
    difference |= static_cast<unsigned char>(p ^ expected[i]);
  }
  return difference == 0 && !expected.empty();
}

}  // namespace micq::serve
