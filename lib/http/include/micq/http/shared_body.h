// SharedBody: a Beast body whose bytes are an immutable, shared string.
// A cached page is written to many sockets at once without being copied
// per response; a dynamic body is one make_shared away.
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
#include <utility>

namespace micq::http {

struct SharedBody {
  using value_type = std::shared_ptr<const std::string>;

  static std::uint64_t size(const value_type& body) { return body ? body->size() : 0; }

  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>&, const value_type& body) : body_(body) {}

    void init(boost::beast::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      if (sent_ || !body_ || body_->empty()) return boost::none;
      sent_ = true;
      return std::make_pair(boost::asio::const_buffer(body_->data(), body_->size()), false);
    }

   private:
    const value_type& body_;
    bool sent_ = false;
  };
};

}  // namespace micq::http

#endif  // MICQ_HTTP_SHARED_BODY_H_
