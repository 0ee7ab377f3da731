#include "response.h"

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <memory>

namespace micq::serve {

namespace field = boost::beast::http;
using http::Status;

std::string cache_control_for(std::chrono::milliseconds ttl) {
  return "max-age=" + std::to_string(std::max<long long>(1, ttl.count() / 1000));
}

http::Response page_response(const Page& page, const http::Request& request, bool stale,
                             std::chrono::nanoseconds age, const ResponseOptions& options) {
  http::Response response;
  auto if_none_match = request.message[field::field::if_none_match];
  if (!if_none_match.empty() &&
      etag_matches(std::string_view(if_none_match.data(), if_none_match.size()), page.etag)) {
    response.result(Status::not_modified);
  } else {
    response.result(Status::ok);
    response.set(field::field::content_type, "application/json");
    auto accept = request.message[field::field::accept_encoding];
    if (options.gzip_level > 0 && accepts_gzip(std::string_view(accept.data(), accept.size()))) {
      response.body() = page.gzip
                            ? page.gzip->get(*page.body)
                            : std::make_shared<const std::string>(gzip_of(*page.body, options.gzip_level));
      response.set(field::field::content_encoding, "gzip");
    } else {
      response.body() = page.body;
    }
  }
  response.version(11);
  response.set(field::field::etag, page.etag);
  response.set(field::field::cache_control, options.cache_control);
  response.set(field::field::vary, "Accept-Encoding");
  if (!options.instance.empty()) response.set("X-Micq-Instance", options.instance);
  if (stale) {
    response.set(field::field::warning, "110 - \"stale\"");
    response.set(field::field::age,
                 std::to_string(std::chrono::duration_cast<std::chrono::seconds>(age).count()));
  }
  response.prepare_payload();
  return response;
}

}  // namespace micq::serve
