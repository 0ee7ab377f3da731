// What Redis says about its load: the commands every node of a stack has
// processed (INFO stats, total_commands_processed), so a bench stage can
// report Redis commands per client request — for one node or summed over
// the nodes of a Redis Cluster.
//
// Thread safety: free functions; the coroutine runs on its caller's
// executor.
#ifndef MICQ_BENCH_REDIS_STATS_H_
#define MICQ_BENCH_REDIS_STATS_H_

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "micq/redis/reply.h"

namespace micq::bench {

// total_commands_processed in the text of an INFO reply, or nullopt.
std::optional<std::uint64_t> commands_processed_from(std::string_view info);

// The sum over `nodes` of total_commands_processed, or nullopt if any node
// does not answer (a sum missing a node would read as a drop). Each read
// counts itself on its node: one command per node per call.
boost::asio::awaitable<std::optional<std::uint64_t>> commands_processed(std::vector<redis::Endpoint> nodes);

}  // namespace micq::bench

#endif  // MICQ_BENCH_REDIS_STATS_H_
