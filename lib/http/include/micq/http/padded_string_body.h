// PaddedStringBody: Beast's string body, but reserving room past the end
// for simdjson's on-demand parser (which reads SIMDJSON_PADDING bytes
// beyond the JSON). With the plain string body, padding each downstream
// answer meant a reallocation and a full copy per answer.
#ifndef MICQ_HTTP_PADDED_STRING_BODY_H_
#define MICQ_HTTP_PADDED_STRING_BODY_H_

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>
#include <cstdint>
#include <string>

namespace micq::http {

struct PaddedStringBody {
  // At least simdjson's SIMDJSON_PADDING (64).
  static constexpr std::size_t kPadding = 64;
  using value_type = std::string;

  static std::uint64_t size(const value_type& body) { return body.size(); }

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(boost::beast::http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>& content_length, boost::beast::error_code& ec) {
      ec = {};
      if (content_length) {
        if (*content_length > body_.max_size() - kPadding) {
          ec = boost::beast::http::error::buffer_overflow;
          return;
        }
        body_.reserve(static_cast<std::size_t>(*content_length) + kPadding);
      }
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
      ec = {};
      std::size_t added = 0;
      for (auto it = boost::asio::buffer_sequence_begin(buffers);
           it != boost::asio::buffer_sequence_end(buffers); ++it) {
        boost::asio::const_buffer buffer = *it;
        body_.append(static_cast<const char*>(buffer.data()), buffer.size());
        added += buffer.size();
      }
      return added;
    }

    void finish(boost::beast::error_code& ec) {
      ec = {};
      if (body_.capacity() < body_.size() + kPadding) body_.reserve(body_.size() + kPadding);
    }

   private:
    value_type& body_;
  };
};

}  // namespace micq::http

#endif  // MICQ_HTTP_PADDED_STRING_BODY_H_
