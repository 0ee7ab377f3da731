// Fuzz target: the bytes of one connection through everything micq's HTTP
// server does before a handler runs (lib/http/server.cpp, serve_connection):
// Beast's request_parser<string_body> with the server's header and body
// limits, reading pipelined requests off one buffer as the server does
// (chunked bodies included), the target split into path and query, and
// Router::match over the routes of serve, the aggregator and the sim.
//
// Invariants:
//  * the requests parsed, and whether the connection ends cleanly or in a
//    refusal, do not depend on how TCP cut the bytes into reads (each input
//    is read twice: in reads as large as the server's buffer asks for, and
//    in small pieces). Which refusal may:
//    Beast reports a bad header line as soon as it sees it when the bytes
//    come at once, but once it had to wait for more it waits for the whole
//    header (then "partial message" at the end, or the header limit). And
//    Beast counts its header limit from where its first read of a header
//    stopped, so a header just over 16 KiB may pass when cut one way and
//    not another: after a header-limit refusal only the requests both reads
//    parsed are compared;
//  * a parsed body is within the body limit;
//  * Router::match agrees with a reference matcher written here from the
//    rule in router.h (first route of the method wins; else 405 with Allow
//    listing every method of the path; else unmatched), captures included.
#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/system_error.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check.h"
#include "micq/http/router.h"
#include "micq/http/server.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = micq::http;
using Params = std::vector<std::pair<std::string, std::string>>;

// A SyncReadStream over the fuzz input that hands out at most `piece`
// bytes per read, as a TCP socket may, then end of file.
class PieceStream {
 public:
  PieceStream(std::string_view bytes, std::size_t piece) : rest_(bytes), piece_(piece) {}

  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, boost::system::error_code& ec) {
    if (rest_.empty()) {
      ec = asio::error::eof;
      return 0;
    }
    ec = {};
    std::size_t n = asio::buffer_copy(buffers, asio::buffer(rest_.data(), std::min(rest_.size(), piece_)));
    rest_.remove_prefix(n);
    return n;
  }

  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers) {
    boost::system::error_code ec;
    std::size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  std::string_view rest_;
  std::size_t piece_;
};

struct RouteSpec {
  http::Method method;
  std::string_view pattern;
  std::string_view name;
};

// The routes of each service as its add_routes() registers them (serve:
// serve_service.cpp, aggregator: aggregator_service.cpp, sim:
// sim_service.cpp), then add_standard_routes()'s two.
const std::vector<std::vector<RouteSpec>>& services() {
  using M = http::Method;
  static const std::vector<std::vector<RouteSpec>> all{
      {{M::get, "/v1/rooms/{room_id}/mic-queue", "mic_queue"},
       {M::post, "/v1/rooms/{room_id}/events", "events"},
       {M::get, "/readyz", "readyz"},
       {M::get, "/demo", "demo"}},
      {{M::post, "/v1/privileges/batch", "privileges_batch"}, {M::get, "/stats", "stats"}},
      {{M::post, "/v1/kinds/{kind}/batch", "kind_batch"},
       {M::post, "/admin/users/{uid}/bump", "admin_bump"},
       {M::post, "/admin/config", "admin_config"},
       {M::get, "/stats", "stats"},
       {M::post, "/admin/reset-stats", "admin_reset_stats"}},
  };
  return all;
}
constexpr RouteSpec kStandardRoutes[] = {{http::Method::get, "/healthz", "healthz"},
                                         {http::Method::get, "/metrics", "metrics"}};

// Each service's routes in the order its router holds them.
const std::vector<std::vector<RouteSpec>>& route_tables() {
  static const std::vector<std::vector<RouteSpec>> tables = [] {
    std::vector<std::vector<RouteSpec>> out = services();
    for (auto& routes : out)
      routes.insert(routes.end(), std::begin(kStandardRoutes), std::end(kStandardRoutes));
    return out;
  }();
  return tables;
}

const std::vector<http::Router>& routers() {
  static const std::vector<http::Router> built = [] {
    auto metrics = std::make_shared<micq::metrics::Metrics>();
    std::vector<http::Router> out;
    for (const auto& routes : services()) {
      http::Router& router = out.emplace_back();
      for (const RouteSpec& route : routes) {
        router.add(route.method, route.pattern, std::string(route.name),
                   [](http::Request&) -> asio::awaitable<http::Response> { co_return http::Response{}; });
      }
      http::add_standard_routes(router, metrics);
    }
    return out;
  }();
  return built;
}

// The reference reading of a pattern: segments between '/' (one leading
// '/' dropped), "{x}" capturing one non-empty segment.
std::optional<Params> fit(std::string_view pattern, std::string_view path) {
  if (pattern.starts_with('/')) pattern.remove_prefix(1);
  if (path.starts_with('/')) path.remove_prefix(1);
  Params captures;
  while (true) {
    std::size_t pattern_end = std::min(pattern.find('/'), pattern.size());
    std::size_t path_end = std::min(path.find('/'), path.size());
    std::string_view want = pattern.substr(0, pattern_end), got = path.substr(0, path_end);
    if (want.size() >= 2 && want.front() == '{' && want.back() == '}') {
      if (got.empty()) return std::nullopt;
      captures.emplace_back(want.substr(1, want.size() - 2), got);
    } else if (want != got) {
      return std::nullopt;
    }
    bool pattern_done = pattern_end == pattern.size(), path_done = path_end == path.size();
    if (pattern_done || path_done) return pattern_done && path_done ? std::optional(captures) : std::nullopt;
    pattern.remove_prefix(pattern_end + 1);
    path.remove_prefix(path_end + 1);
  }
}

struct Routed {
  bool found = false;
  std::string name = "unmatched";
  std::string allow;
  Params params;
  bool operator==(const Routed&) const = default;
};

Routed expected_match(const std::vector<RouteSpec>& routes, http::Method method, std::string_view path) {
  Routed out;
  for (const RouteSpec& route : routes) {
    if (route.method != method && !(method == http::Method::head && route.method == http::Method::get))
      continue;
    if (auto captures = fit(route.pattern, path)) {
      out.found = true;
      out.name = std::string(route.name);
      out.params = std::move(*captures);
      return out;
    }
  }
  for (const RouteSpec& route : routes) {
    if (!fit(route.pattern, path)) continue;
    if (!out.allow.empty()) out.allow += ", ";
    out.allow += std::string(beast::http::to_string(route.method));
    out.name = std::string(route.name);
  }
  return out;
}

// What one parsed request was, and where each router sent it.
struct Seen {
  std::string method, target, body;
  unsigned version = 0;
  bool keep_alive = false;
  Params fields;
  std::vector<Routed> routes;
  bool operator==(const Seen&) const = default;
};

struct Connection {
  std::vector<Seen> requests;
  boost::system::error_code end;  // why reading stopped
  // The client closed between requests (or the server did, after
  // Connection: close), rather than the server refusing what it read.
  bool clean_end() const { return !end || end == beast::http::error::end_of_stream; }
};

bool agree(const Connection& a, const Connection& b) {
  if (a.end == beast::http::error::header_limit || b.end == beast::http::error::header_limit) {
    std::size_t both = std::min(a.requests.size(), b.requests.size());
    return std::equal(a.requests.begin(), a.requests.begin() + static_cast<std::ptrdiff_t>(both),
                      b.requests.begin());
  }
  return a.requests == b.requests && a.clean_end() == b.clean_end();
}

Connection serve(std::string_view bytes, std::size_t piece) {
  constexpr std::size_t kMaxRequests = 64;
  const http::ServerOptions options;  // the limits every micq server runs with
  Connection connection;
  PieceStream stream(bytes, piece);
  beast::flat_buffer buffer;
  while (connection.requests.size() < kMaxRequests) {
    beast::http::request_parser<beast::http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
    parser.body_limit(options.body_limit);
    beast::http::read(stream, buffer, parser, connection.end);
    if (connection.end) break;
    http::Request request = http::request_of(parser.release());
    std::string_view target(request.message.target().data(), request.message.target().size());

    Seen seen;
    seen.method = std::string(request.message.method_string());
    seen.target = std::string(target);
    seen.body = request.message.body();
    seen.version = request.message.version();
    seen.keep_alive = request.message.keep_alive();
    for (const auto& field : request.message) seen.fields.emplace_back(field.name_string(), field.value());
    MICQ_FUZZ_CHECK(seen.body.size() <= options.body_limit, "body of " + std::to_string(seen.body.size()));
    for (std::size_t s = 0; s < routers().size(); ++s) {
      http::Router::Match match = routers()[s].match(request);
      Routed routed{match.handler != nullptr, std::string(match.name), match.allow, {}};
      for (const auto& [name, value] : request.params) routed.params.emplace_back(name, value);
      Routed reference = expected_match(route_tables()[s], request.message.method(), request.path);
      MICQ_FUZZ_CHECK(routed == reference, "service " + std::to_string(s) + " path '" +
                                               std::string(request.path) + "': router says " + routed.name +
                                               " [" + routed.allow + "], reference " + reference.name + " [" +
                                               reference.allow + "]");
      seen.routes.push_back(std::move(routed));
    }
    connection.requests.push_back(std::move(seen));
    if (!request.message.keep_alive()) break;  // the server closes after answering
  }
  return connection;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Connection whole = serve(bytes, bytes.size() + 1);
  // Any cut will do; this one varies with the input so the fuzzer tries many.
  std::size_t piece = 1 + (size * 7 + (size ? data[0] : 0)) % 31;
  Connection pieces = serve(bytes, piece);
  MICQ_FUZZ_CHECK(agree(whole, pieces),
                  "read whole: " + std::to_string(whole.requests.size()) + " request(s), " +
                      whole.end.message() + "; in pieces of " + std::to_string(piece) + ": " +
                      std::to_string(pieces.requests.size()) + ", " + pieces.end.message());
  return 0;
}
