#include "micq/http/router.h"

#include <array>
#include <boost/beast/http/verb.hpp>
#include <stdexcept>

namespace micq::http {
namespace {

// A path's segments, split once per request into fixed storage: no
// allocation on the hit path. A path with more segments than any route may
// have matches none.
struct Segments {
  std::array<std::string_view, Router::kMaxSegments> parts;
  std::size_t count = 0;
  bool too_many = false;
};

Segments split_path(std::string_view path) {
  Segments segments;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    if (segments.count == segments.parts.size()) {
      segments.too_many = true;
      return segments;
    }
    auto slash = path.find('/');
    segments.parts[segments.count++] = path.substr(0, slash);
    if (slash == std::string_view::npos) return segments;
    path.remove_prefix(slash + 1);
  }
}

bool is_capture(std::string_view segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void Router::add(Method method, std::string_view pattern, std::string name, Handler handler) {
  Segments segments = split_path(pattern);
  if (segments.too_many)
    throw std::invalid_argument("route pattern has too many segments: " + std::string(pattern));
  Route route{method, {}, std::move(name), std::move(handler)};
  for (std::size_t i = 0; i < segments.count; ++i) {
    std::string_view part = segments.parts[i];
    if (is_capture(part)) {
      route.segments.push_back({std::string(part.substr(1, part.size() - 2)), true});
    } else {
      route.segments.push_back({std::string(part), false});
    }
  }
  routes_.push_back(std::move(route));
}

namespace {

// Segment kinds are known from add(): a match compares sizes and bytes.
bool matches(const std::vector<internal::RouteSegment>& pattern, const Segments& path,
             Request::Params* params) {
  if (path.too_many || path.count != pattern.size()) return false;
  for (std::size_t i = 0; i < path.count; ++i) {
    const internal::RouteSegment& segment = pattern[i];
    if (segment.capture) {
      if (path.parts[i].empty()) return false;
      if (params) params->emplace_back(segment.text, path.parts[i]);
    } else if (segment.text != path.parts[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

Router::Match Router::match(Request& request) const {
  Match result;
  const Segments path = split_path(request.path);
  Method method = request.message.method();
  for (const Route& route : routes_) {
    bool same_method = route.method == method || (method == Method::head && route.method == Method::get);
    if (!same_method) continue;
    request.params.clear();
    if (matches(route.segments, path, &request.params)) {
      result.handler = &route.handler;
      result.name = route.name;
      return result;
    }
  }
  request.params.clear();
  for (const Route& route : routes_) {
    if (matches(route.segments, path, nullptr)) {
      if (!result.allow.empty()) result.allow += ", ";
      result.allow += std::string(boost::beast::http::to_string(route.method));
      result.name = route.name;
    }
  }
  return result;
}

}  // namespace micq::http
