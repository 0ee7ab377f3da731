// SharedBody: a Beast body whose bytes are an immutable, shared string.
// A cached page is written to many sockets at once without being copied
// per response; a dynamic body is one make_shared away.
//
// A response may also come in wire form (SharedBytes::prepared_head): its
// whole head already serialized, kept with a cached page, so that a hit is
// one gather write of shared bytes and the server serializes nothing.
//
// Thread safety: the string is immutable; any number of responses on any
// threads may hold the same value.
#ifndef MICQ_HTTP_SHARED_BODY_H_
#define MICQ_HTTP_SHARED_BODY_H_

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "micq/http/sealed_file.h"

namespace micq::http {

// The body's bytes, and optionally the response's head in wire form.
struct SharedBytes {
  SharedBytes() = default;
  SharedBytes(std::nullptr_t) {}  // NOLINT: assigning nullptr empties the body
  SharedBytes(std::shared_ptr<const std::string> body) : bytes(std::move(body)) {}  // NOLINT: as a plain body

  std::shared_ptr<const std::string> bytes;
  // When set, the server writes exactly this head (the status line and
  // every header line, each ending in CRLF, but not the blank line that
  // ends a head), then "Connection: close" if the connection closes, the
  // blank line and `bytes` (not for HEAD), in one gather write. The
  // message's own fields are then not written; its status still counts.
  std::shared_ptr<const std::string> prepared_head;
  // With prepared_head: the whole keep-alive answer in a sealed file:
  // `prepared_head`, the blank line ("\r\n") and the same bytes as
  // `bytes` (see seal_answer). A keep-alive answer is then one sendfile(2)
  // of it all, with no copy from user memory; any other is the head, then
  // the file past its own (prepared_head and kHeadEnd).
  std::shared_ptr<const SealedFile> file;
};

// The blank line that ends a head.
inline constexpr std::string_view kHeadEnd = "\r\n";

// The file for SharedBytes::file: `head` (as prepared_head), the blank
// line, `body`. Null if the kernel refuses (the answer is sent from memory).
inline std::shared_ptr<const SealedFile> seal_answer(std::string_view head, std::string_view body) {
  return SealedFile::of({head, kHeadEnd, body});
}

struct SharedBody {
  using value_type = SharedBytes;

  static std::uint64_t size(const value_type& body) { return body.bytes ? body.bytes->size() : 0; }

  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>&, const value_type& body) : body_(body) {}

    void init(boost::beast::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      if (sent_ || !body_.bytes || body_.bytes->empty()) return boost::none;
      sent_ = true;
      return std::make_pair(boost::asio::const_buffer(body_.bytes->data(), body_.bytes->size()), false);
    }

   private:
    const value_type& body_;
    bool sent_ = false;
  };
};

}  // namespace micq::http

#endif  // MICQ_HTTP_SHARED_BODY_H_
