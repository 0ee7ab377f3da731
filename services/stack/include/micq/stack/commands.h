// The command lines of the micq processes a Stack starts, one recipe for
// `micq up` and `micq bench`: the subcommand first (as Stack::start_micq
// takes them), on a free loopback port unless told otherwise, wired to the
// process before it (sim <- aggregator <- serve). Callers add only the
// flags that make their stack theirs.
//
// Example (built outside a coroutine: g++ 12 cannot keep an initializer
// list's array in a coroutine frame):
//   auto sim = sim_command(kinds, {"--latency-ms", "5"});
//   auto aggregator = aggregator_command(kinds, sim_port);
//   auto serve = serve_command({.redis = redis, .aggregator_port = aggregator_port,
//                               .events_token = token},
//                              {"--l2", "on"});
//
// Thread safety: pure functions.
#ifndef MICQ_STACK_COMMANDS_H_
#define MICQ_STACK_COMMANDS_H_

#include <string>
#include <vector>

namespace micq::stack {

// `sim --listen 127.0.0.1:0 --kinds <kinds>` and `flags`.
std::vector<std::string> sim_command(const std::string& kinds, const std::vector<std::string>& flags = {});

// `aggregator --listen 127.0.0.1:0 --kinds <kinds>` calling the sim on
// 127.0.0.1:<sim_port>.
std::vector<std::string> aggregator_command(const std::string& kinds, int sim_port);

// Where a serve finds the rest of its stack.
struct ServeWiring {
  std::string listen = "127.0.0.1:0";
  std::string redis = {};          // "host:port" of one Redis, or (if empty)
  std::string redis_cluster = {};  // a cluster's seeds, "host:port,..."
  int aggregator_port = 0;         // on 127.0.0.1
  std::string events_token = {};
};

// `serve` wired as `wiring` says, and `flags`.
std::vector<std::string> serve_command(const ServeWiring& wiring, const std::vector<std::string>& flags = {});

}  // namespace micq::stack

#endif  // MICQ_STACK_COMMANDS_H_
