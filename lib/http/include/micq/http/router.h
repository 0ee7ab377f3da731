// Router: maps (method, path) to a handler by route patterns such as
// "/v1/rooms/{room_id}/events". Unknown paths are 404; a known path with
// another method is 405 with an Allow header (SPEC §2).
//
// Example:
//   Router router;
//   router.add(Method::get, "/healthz", "healthz",
//              [](Request&) -> asio::awaitable<Response> { co_return json_response(Status::ok, "{}"); });
//
// Thread safety: add() during set-up only; match() from any thread after.
#ifndef MICQ_HTTP_ROUTER_H_
#define MICQ_HTTP_ROUTER_H_

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "micq/http/message.h"

namespace micq::http {

using Method = beast_http::verb;
using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

namespace internal {
// One segment of a route pattern, its kind decided once by Router::add.
struct RouteSegment {
  std::string text;  // the capture's name for "{name}", else the literal
  bool capture;
};
}  // namespace internal

class Router {
 public:
  // `name` labels the route in metrics ("rooms_mic_queue"): bounded, never
  // the raw path, so a scan of random URLs cannot grow the metric set.
  // Throws std::invalid_argument for a pattern of more than kMaxSegments.
  void add(Method method, std::string_view pattern, std::string name, Handler handler);
  static constexpr std::size_t kMaxSegments = 16;

  struct Match {
    const Handler* handler = nullptr;  // null: not found or method not allowed
    std::string_view name = "unmatched";
    std::string allow;  // set for 405: methods the path accepts
  };

  // Fills request.params on a match.
  Match match(Request& request) const;

 private:
  struct Route {
    Method method;
    std::vector<internal::RouteSegment> segments;
    std::string name;
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace micq::http

#endif  // MICQ_HTTP_ROUTER_H_
