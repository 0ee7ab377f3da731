// RedisClient: one pipelined connection to one Redis node, on Asio
// coroutines, with hiredis used only as the codec (redisFormatCommandArgv to
// encode, redisReader to decode; micq never parses RESP itself).
//
//  * pipeline(): several commands written together, answered in one round
//    trip (e.g. ZREVRANGE + ZCARD + GET for one page);
//  * one deadline per call; a call that misses it gets an error, and the
//    connection is reset (a stuck Redis must not pile up callers);
//  * reconnects on the next call after a failure, with exponential back-off
//    (50 ms doubling to 2 s); calls during the back-off fail at once;
//  * eval(): EVALSHA, falling back to SCRIPT LOAD + EVALSHA on NOSCRIPT.
//
// Example:
//   RedisClient redis(executor, {"127.0.0.1", 6379});
//   std::vector<Command> commands{{"ZCARD", key}, {"GET", ver_key}};
//   auto replies = co_await redis.pipeline(std::move(commands), 500ms);
//   if (!replies) ...replies.error()...; else (*replies)[0].integer ...
//
// Thread safety: every member may be called concurrently from any thread
// and any coroutine; the connection state lives on an internal strand.
#ifndef MICQ_REDIS_CLIENT_H_
#define MICQ_REDIS_CLIENT_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "micq/redis/commands.h"
#include "micq/redis/reply.h"

namespace micq::redis {

// Errors a call can end with (a Redis error *reply* is not one of these: it
// comes back as a Reply of type kError).
enum class Error {
  kUnavailable = 1,  // cannot connect, or backing off after a failure
  kTimeout,          // the deadline passed
  kConnectionLost,   // the connection broke with this call pending
  kProtocol,         // the reply could not be decoded
};
const boost::system::error_category& error_category();
boost::system::error_code make_error_code(Error e);

class RedisClient final : public Commands {
 public:
  RedisClient(boost::asio::any_io_executor executor, Endpoint endpoint);
  ~RedisClient() override;
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends all commands in one write and returns their replies in order.
  boost::asio::awaitable<boost::system::result<std::vector<Reply>>> pipeline(
      std::vector<Command> commands, std::chrono::milliseconds deadline) override;

  // One command.
  boost::asio::awaitable<boost::system::result<Reply>> command(Command command,
                                                               std::chrono::milliseconds deadline) override;

  // EVALSHA of `script` (loading it when Redis answers NOSCRIPT).
  boost::asio::awaitable<boost::system::result<Reply>> eval(const std::string& script,
                                                            std::vector<std::string> keys,
                                                            std::vector<std::string> args,
                                                            std::chrono::milliseconds deadline) override;

  boost::asio::awaitable<boost::system::result<Replicated>> eval_replicated(
      const std::string& script, std::vector<std::string> keys, std::vector<std::string> args, int replicas,
      std::chrono::milliseconds wait, std::chrono::milliseconds deadline) override;

  const Endpoint& endpoint() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace micq::redis

namespace boost::system {
template <>
struct is_error_code_enum<micq::redis::Error> : std::true_type {};
}  // namespace boost::system

#endif  // MICQ_REDIS_CLIENT_H_
