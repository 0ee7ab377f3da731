#include "micq/redis/internal/wire.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <vector>

namespace micq::redis::internal {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

bool append_command(const Command& command, std::string& out) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(command.size());
  lengths.reserve(command.size());
  for (const auto& arg : command) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  char* encoded = nullptr;
  int n = redisFormatCommandArgv(&encoded, static_cast<int>(argv.size()), argv.data(), lengths.data());
  if (n < 0 || encoded == nullptr) return false;
  out.append(encoded, static_cast<std::size_t>(n));
  redisFreeCommand(encoded);
  return true;
}

asio::awaitable<error_code> connect_to(tcp::socket& socket, tcp::resolver& resolver,
                                       const Endpoint& endpoint) {
  constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
  error_code ec;
  auto address = asio::ip::make_address(endpoint.host, ec);
  if (!ec) {
    auto [connect_ec] = co_await socket.async_connect(tcp::endpoint(address, endpoint.port), use_tuple);
    ec = connect_ec;
  } else {
    auto [resolve_ec, results] =
        co_await resolver.async_resolve(endpoint.host, std::to_string(endpoint.port), use_tuple);
    ec = resolve_ec;
    if (!ec) {
      auto [connect_ec, connected_to] = co_await asio::async_connect(socket, results, use_tuple);
      ec = connect_ec;
    }
  }
  if (!ec) {
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
  }
  co_return ec;
}

std::chrono::milliseconds backoff_after(int failures) {
  constexpr std::chrono::milliseconds kMin(50), kMax(2000);
  return std::min<std::chrono::milliseconds>(kMin * (1 << std::clamp(failures, 0, 6)), kMax);
}

void ReplyDeleter::operator()(redisReply* reply) const { freeReplyObject(reply); }

std::string endpoint_name(const Endpoint& endpoint) {
  return endpoint.host + ":" + std::to_string(endpoint.port);
}

std::optional<Endpoint> redirect_target(const Reply& reply, std::string_view kind) {
  if (!reply.is_error() || reply.str.compare(0, kind.size(), kind) != 0) return std::nullopt;
  auto space = reply.str.rfind(' ');
  if (space == std::string::npos) return std::nullopt;
  auto endpoint = parse_endpoint(std::string_view(reply.str).substr(space + 1));
  if (!endpoint) return std::nullopt;
  return *endpoint;
}

}  // namespace micq::redis::internal
