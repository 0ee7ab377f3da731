// Test harness: a blocking HTTP/1.1 client (Beast) for talking to a micq
// process on loopback from a test thread, plus raw byte exchanges for
// malformed input.
#ifndef MICQ_TESTS_HTTP_CLIENT_H_
#define MICQ_TESTS_HTTP_CLIENT_H_

#include <rapidjson/document.h>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace micq::testing {

using Reply = boost::beast::http::response<boost::beast::http::string_body>;
using Headers = std::vector<std::pair<std::string, std::string>>;

// One request on a new connection. Throws on connection errors.
Reply http_request(int port, boost::beast::http::verb method, const std::string& target,
                   const std::string& body = "", const Headers& headers = {});

inline Reply get(int port, const std::string& target, const Headers& headers = {}) {
  return http_request(port, boost::beast::http::verb::get, target, "", headers);
}
inline Reply post(int port, const std::string& target, const std::string& body, const Headers& headers = {}) {
  return http_request(port, boost::beast::http::verb::post, target, body, headers);
}

// Sends `bytes`, then reads until the server closes the connection or
// `timeout` passes. Returns what arrived and whether the server closed.
struct RawExchange {
  std::string received;
  bool closed_by_server = false;
};
RawExchange raw_exchange(int port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The body parsed as JSON (check HasParseError()/IsObject() before use).
rapidjson::Document parse(const std::string& body);

// "http://127.0.0.1:<port>": a micq process's base URL for flags.
std::string base_url(int port);

// The "error.code" of a SPEC error body, or "" if the body is not one.
std::string error_code_of(const std::string& body);

// The value of an unlabelled series in a process's /metrics (or of the
// exact series text with labels, e.g. `a_total{reason="x"}`), -1 if absent.
double metric_value(int port, const std::string& series);

}  // namespace micq::testing

#endif  // MICQ_TESTS_HTTP_CLIENT_H_
