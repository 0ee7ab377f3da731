// Request and Response as every micq handler sees them, and the builders
// for the responses micq sends (SPEC §2: errors are always
// {"error":{"code":"<snake_case>","message":"<human sentence>"}}).
#ifndef MICQ_HTTP_MESSAGE_H_
#define MICQ_HTTP_MESSAGE_H_

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/container/small_vector.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "micq/http/shared_body.h"

namespace micq::http {

namespace beast_http = boost::beast::http;
using Status = beast_http::status;

struct Request {
  beast_http::request<beast_http::string_body> message;
  std::string_view path;   // target up to '?'
  std::string_view query;  // after '?', empty if none
  // `{name}` segments of the matched route pattern, in order (inline:
  // no allocation for the few a route has).
  using Params = boost::container::small_vector<std::pair<std::string_view, std::string_view>, 4>;
  Params params;

  // The value of `{name}` in the matched route, or empty.
  std::string_view param(std::string_view name) const;
};

// `message` as a Request: path and query split from its target (the
// views point into the message, which moves with the Request).
Request request_of(beast_http::request<beast_http::string_body> message);

using Response = beast_http::response<SharedBody>;

// 200-style JSON answer; `body` is already serialized JSON.
Response json_response(Status status, std::string body);
Response json_response(Status status, std::shared_ptr<const std::string> body);

// The SPEC error JSON with `code` and `message` (escaped for JSON).
Response error_response(Status status, std::string_view code, std::string_view message);

// Serializes the SPEC error object alone (used where a handler builds its
// own response).
std::string error_json(std::string_view code, std::string_view message);

}  // namespace micq::http

#endif  // MICQ_HTTP_MESSAGE_H_
