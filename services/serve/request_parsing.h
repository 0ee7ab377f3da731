// Validation of what clients send to micq serve (SPEC §2), as pure
// functions: each returns the parsed value or the message for a 400.
#ifndef MICQ_SERVE_REQUEST_PARSING_H_
#define MICQ_SERVE_REQUEST_PARSING_H_

#include <boost/system/result.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "micq/service/event_types.h"

namespace micq::serve {

struct PageQuery {
  int page = 0;
  int size = 0;
};

struct QueryError {
  std::string parameter;  // "page" or "size"
  std::string message;
};

// "page=P&size=S" (both optional; unknown parameters ignored). `page`
// 0..999, `size` 1..max_size, decimal digits only.
boost::system::result<PageQuery, QueryError> parse_page_query(std::string_view query, int default_size,
                                                              int max_size);

using service::EventType;

struct Event {
  EventType type;
  std::string uid;
  std::int64_t increment = 0;  // the score change: gift value, 1 for chat, 5 for share
};

// One event object, or {"events":[...]} with 1..1000 of them. The whole
// body is validated before anything is returned.
boost::system::result<std::vector<Event>, std::string> parse_events(std::string_view body);

// Idempotency-Key: 1..128 printable ASCII characters.
bool is_valid_idempotency_key(std::string_view key);

// Constant-time comparison of a presented bearer token with the expected one.
bool token_matches(std::string_view presented, std::string_view expected);

}  // namespace micq::serve

#endif  // MICQ_SERVE_REQUEST_PARSING_H_
