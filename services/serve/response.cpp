#include "response.h"

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/write.hpp>
#include <memory>
#include <sstream>

namespace micq::serve {

namespace field = boost::beast::http;
using http::Status;

std::string cache_control_for(std::chrono::milliseconds ttl) {
  return "max-age=" + std::to_string(std::max<long long>(1, ttl.count() / 1000));
}

namespace {

// The answer as Beast would write it: every header field set on a message.
// The prepared heads are this message's header, serialized once, so the
// two paths cannot answer differently.
http::Response shaped(const Page& page, Status status, std::shared_ptr<const std::string> body, bool gzip,
                      bool stale, std::chrono::nanoseconds age, const ResponseOptions& options) {
  http::Response response;
  response.result(status);
  if (status != Status::not_modified) {
    response.set(field::field::content_type, "application/json");
    if (gzip) response.set(field::field::content_encoding, "gzip");
    response.body() = std::move(body);
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
  // A 304 carries no Content-Length: RFC 9110 allows one only if it is the
  // 200's, and a client must not read a body after it anyway.
  if (status != Status::not_modified) response.prepare_payload();
  return response;
}

// The head of `response` in wire form, without the blank line that ends it.
std::string wire_head(const http::Response& response) {
  std::ostringstream out;
  out << response.base();
  std::string head = std::move(out).str();
  if (head.size() >= 2 && head.compare(head.size() - 2, 2, "\r\n") == 0) head.resize(head.size() - 2);
  return head;
}

}  // namespace

http::Response page_response(const Page& page, const http::Request& request, bool stale,
                             std::chrono::nanoseconds age, const ResponseOptions& options) {
  auto if_none_match = request.message[field::field::if_none_match];
  const bool not_modified =
      !if_none_match.empty() &&
      etag_matches(std::string_view(if_none_match.data(), if_none_match.size()), page.etag);
  bool gzip = false;
  std::shared_ptr<const std::string> body;
  if (!not_modified) {
    auto accept = request.message[field::field::accept_encoding];
    gzip = options.gzip_level > 0 && accepts_gzip(std::string_view(accept.data(), accept.size()));
    body = !gzip       ? page.body
           : page.gzip ? page.gzip->get(*page.body)
                       : std::make_shared<const std::string>(gzip_of(*page.body, options.gzip_level));
  }
  const Status status = not_modified ? Status::not_modified : Status::ok;
  // A fresh answer of a kept page: its head was serialized by the first
  // answer of its kind; this one only points at bytes.
  if (page.heads && !stale) {
    PreparedHeads::Kind kind = not_modified ? PreparedHeads::kNotModified
                               : gzip       ? PreparedHeads::kGzip
                                            : PreparedHeads::kIdentity;
    const PreparedHead& prepared = page.heads->get(kind, [&] {
      PreparedHead made;
      made.head = std::make_shared<const std::string>(
          wire_head(shaped(page, status, body, gzip, false, age, options)));
      if (kind == PreparedHeads::kIdentity && page.sealed) made.file = http::seal_answer(*made.head, *body);
      return made;
    });
    http::Response response;
    response.result(status);
    response.body().bytes = std::move(body);
    response.body().prepared_head = prepared.head;
    response.body().file = prepared.file;
    return response;
  }
  return shaped(page, status, std::move(body), gzip, stale, age, options);
}

}  // namespace micq::serve
