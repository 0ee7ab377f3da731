// Internal to micq::redis: what every connection to a Redis node shares —
// encoding a command (hiredis formats it), opening the TCP connection, and
// reading a cluster redirect. The pipelined client, the cluster router and
// the subscriber use these, so there is one way to do each.
#ifndef MICQ_REDIS_INTERNAL_WIRE_H_
#define MICQ_REDIS_INTERNAL_WIRE_H_

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "micq/redis/reply.h"

struct redisReply;

namespace micq::redis::internal {

// Appends the RESP encoding of `command` to `out`; false (and `out`
// unchanged) if hiredis cannot encode it.
bool append_command(const Command& command, std::string& out);

// Connects `socket` to `endpoint` (an address as is, a name through
// `resolver`) with TCP_NODELAY. No deadline of its own: closing the socket
// or cancelling the resolver ends it.
boost::asio::awaitable<boost::system::error_code> connect_to(boost::asio::ip::tcp::socket& socket,
                                                             boost::asio::ip::tcp::resolver& resolver,
                                                             const Endpoint& endpoint);

// The back-off after `failures` consecutive failed connects or lost
// connections: 50 ms doubling to 2 s. Calls (or resubscriptions) in the
// window wait instead of hammering a Redis that is not there.
std::chrono::milliseconds backoff_after(int failures);

// Frees a hiredis reply tree.
struct ReplyDeleter {
  void operator()(redisReply* reply) const;
};

// "host:port", the name a node goes by in slot maps.
std::string endpoint_name(const Endpoint& endpoint);

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381" (`kind` is
// "MOVED " or "ASK ") -> the node named; nullopt for any other reply.
std::optional<Endpoint> redirect_target(const Reply& reply, std::string_view kind);

}  // namespace micq::redis::internal

#endif  // MICQ_REDIS_INTERNAL_WIRE_H_
