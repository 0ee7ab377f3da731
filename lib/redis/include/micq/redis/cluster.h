// RedisCluster: Commands over a Redis Cluster. Each call goes to the node
// that owns its key's hash slot (CRC16 of the key, or of its {hash tag}),
// over that node's own pipelined RedisClient. The slot map comes from
// CLUSTER SLOTS on a seed; a MOVED reply updates the slot and the call is
// retried there; an ASK reply is followed once with ASKING.
//
// micq keeps a room's keys in one slot ("micq:{room}:..."), so a page read
// is still one pipelined round trip and the events script runs on one node.
//
// Thread safety: calls may be made concurrently from any thread.
#ifndef MICQ_REDIS_CLUSTER_H_
#define MICQ_REDIS_CLUSTER_H_

#include <boost/asio/any_io_executor.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "micq/redis/commands.h"
#include "micq/redis/reply.h"

namespace micq::redis {

// How many hash slots a Redis Cluster has.
inline constexpr std::size_t kClusterSlots = 16384;

// The cluster hash slot (0..16383) of a key: CRC16-XMODEM of the key, or of
// the text between the first '{' and the next '}' when that is not empty.
std::uint16_t key_slot(std::string_view key);

// "h1:p1,h2:p2" -> seeds, or a message naming what is wrong.
boost::system::result<std::vector<Endpoint>, std::string> parse_seeds(std::string_view text);

class RedisCluster final : public Commands {
 public:
  RedisCluster(boost::asio::any_io_executor executor, std::vector<Endpoint> seeds);
  ~RedisCluster() override;

  boost::asio::awaitable<boost::system::result<std::vector<Reply>>> pipeline(
      std::vector<Command> commands, std::chrono::milliseconds deadline) override;
  boost::asio::awaitable<boost::system::result<Reply>> command(Command command,
                                                               std::chrono::milliseconds deadline) override;
  boost::asio::awaitable<boost::system::result<Reply>> eval(const std::string& script,
                                                            std::vector<std::string> keys,
                                                            std::vector<std::string> args,
                                                            std::chrono::milliseconds deadline) override;
  // During resharding (ASK) the script runs on the importing node without
  // WAIT: replicas = -1, not known.
  boost::asio::awaitable<boost::system::result<Replicated>> eval_replicated(
      const std::string& script, std::vector<std::string> keys, std::vector<std::string> args, int replicas,
      std::chrono::milliseconds wait, std::chrono::milliseconds deadline) override;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace micq::redis

#endif  // MICQ_REDIS_CLUSTER_H_
