// The values every Redis call deals in: commands, decoded replies, nodes.
#ifndef MICQ_REDIS_REPLY_H_
#define MICQ_REDIS_REPLY_H_

#include <boost/system/result.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace micq::redis {

// A decoded reply, owned (no hiredis objects escape the client).
struct Reply {
  enum class Type { kString, kArray, kInteger, kNil, kStatus, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  std::int64_t integer = 0;
  std::vector<Reply> elements;  // kArray

  bool is_error() const { return type == Type::kError; }
};

using Command = std::vector<std::string>;

struct Endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
};

// "host:port" -> Endpoint, or a message naming what is wrong.
boost::system::result<Endpoint, std::string> parse_endpoint(std::string_view text);

}  // namespace micq::redis

#endif  // MICQ_REDIS_REPLY_H_
