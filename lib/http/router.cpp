#include "micq/http/router.h"

#include <boost/beast/http/verb.hpp>

namespace micq::http {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    auto slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

bool is_capture(std::string_view segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void Router::add(Method method, std::string_view pattern, std::string name, Handler handler) {
  Route route{method, {}, std::move(name), std::move(handler)};
  for (auto part : split_path(pattern)) route.segments.emplace_back(part);
  routes_.push_back(std::move(route));
}

bool Router::matches(const Route& route, std::string_view path,
                     std::vector<std::pair<std::string_view, std::string_view>>* params) {
  auto parts = split_path(path);
  if (parts.size() != route.segments.size()) return false;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string& segment = route.segments[i];
    if (is_capture(segment)) {
      if (parts[i].empty()) return false;
      if (params) {
        std::string_view name(segment);
        params->emplace_back(name.substr(1, name.size() - 2), parts[i]);
      }
    } else if (segment != parts[i]) {
      return false;
    }
  }
  return true;
}

Router::Match Router::match(Request& request) const {
  Match result;
  Method method = request.message.method();
  for (const Route& route : routes_) {
    bool same_method = route.method == method || (method == Method::head && route.method == Method::get);
    if (!same_method) continue;
    request.params.clear();
    if (matches(route, request.path, &request.params)) {
      result.handler = &route.handler;
      result.name = route.name;
      return result;
    }
  }
  request.params.clear();
  for (const Route& route : routes_) {
    if (matches(route, request.path, nullptr)) {
      if (!result.allow.empty()) result.allow += ", ";
      result.allow += std::string(boost::beast::http::to_string(route.method));
      result.name = route.name;
    }
  }
  return result;
}

}  // namespace micq::http
