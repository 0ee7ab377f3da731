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
#include <cstdint>
#include <string>
#include <vector>

#include "micq/redis/reply.h"

namespace micq::redis {

// A script's reply and how many replicas acknowledged its writes (WAIT).
struct Replicated {
  Reply reply;
  std::int64_t replicas = 0;
};

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
  // eval(), then WAIT on the same connection for `replicas` replicas to
  // have its writes, for at most `wait` (within `deadline`). Fewer
  // replicas than asked: the writes are on the master only and a failover
  // now would lose them.
  virtual boost::asio::awaitable<boost::system::result<Replicated>> eval_replicated(
      const std::string& script, std::vector<std::string> keys, std::vector<std::string> args, int replicas,
      std::chrono::milliseconds wait, std::chrono::milliseconds deadline) = 0;
};

}  // namespace micq::redis

#endif  // MICQ_REDIS_COMMANDS_H_
