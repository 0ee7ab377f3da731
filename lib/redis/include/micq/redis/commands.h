// Commands: what micq asks of Redis, whether it talks to one node
// (RedisClient) or to a Redis Cluster (RedisCluster). Every call's replies
// come back in order; a Redis error reply is a Reply of type kError.
//
// Thread safety: implementations allow concurrent calls from any thread.
#ifndef MICQ_REDIS_COMMANDS_H_
#define MICQ_REDIS_COMMANDS_H_

#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "micq/redis/reply.h"

namespace micq::redis {

class Commands {
 public:
  virtual ~Commands() = default;

  // REQUIRES (cluster): every command's keys hash to one slot (hash tags).
  virtual boost::asio::awaitable<boost::system::result<std::vector<Reply>>> pipeline(
      std::vector<Command> commands, std::chrono::milliseconds deadline) = 0;
  virtual boost::asio::awaitable<boost::system::result<Reply>> command(
      Command command, std::chrono::milliseconds deadline) = 0;
  virtual boost::asio::awaitable<boost::system::result<Reply>> eval(const std::string& script,
                                                                    std::vector<std::string> keys,
                                                                    std::vector<std::string> args,
                                                                    std::chrono::milliseconds deadline) = 0;
};

}  // namespace micq::redis

#endif  // MICQ_REDIS_COMMANDS_H_
