// `micq bench --scenario fleet` (SPEC §6, issue 11): the hot room on N
// serve instances behind haproxy, on a 3-node Redis Cluster. For each N
// bench starts a fresh fleet on its Stack, then measures the same polls
// without events and with them:
//   polls               via haproxy (round robin over the instances)
//   events              to instance 0 directly
//   staleness           read from the other instances directly (instance 0
//                       itself when N = 1), by probes polling each one
//   CPU, /metrics       summed over the instances; Redis commands and CPU
//                       summed over the cluster's nodes
//
// Example:
//   FleetPlan plan{.instances = 2, .sim_args = ..., .kinds = "24",
//                  .serve_flags = ..., .events_token = token};
//   auto starting = start_fleet(stack, plan);
//   auto endpoints = co_await std::move(starting);  // or .error(): why not
//
// Thread safety: use from the stack's io_context thread.
#ifndef MICQ_BENCH_FLEET_H_
#define MICQ_BENCH_FLEET_H_

#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "micq/stack/stack.h"
#include "stage.h"

namespace micq::bench {

inline constexpr std::string_view kDefaultFleetSizes = "1,2,4";
inline constexpr int kMaxFleetSize = 16;

// "1,2,4" -> {1, 2, 4}: each 1..kMaxFleetSize, at least one.
boost::system::result<std::vector<int>, std::string> parse_fleet_sizes(std::string_view text);

struct FleetPlan {
  int instances = 1;
  std::vector<std::string> sim_args;  // `micq sim` with its flags (stack::sim_command)
  std::string kinds;                  // the aggregator's --kinds
  // `micq serve` flags beyond its wiring to the cluster, the aggregator and
  // the events token (stack::serve_command), e.g. {"--l2", "on"}.
  std::vector<std::string> serve_flags;
  std::string events_token;
};

// Starts the fleet's processes on `stack` (children redis-<port>, sim,
// aggregator, serve-<i>, haproxy); returns what a stage measures, or why
// it could not start.
boost::asio::awaitable<boost::system::result<Endpoints, std::string>> start_fleet(stack::Stack& stack,
                                                                                  FleetPlan plan);

// The stages run on a fleet of `instances`: its polls without events, then
// with `events_per_second` of them.
std::vector<StageSpec> fleet_stages(int instances, double events_per_second);

}  // namespace micq::bench

#endif  // MICQ_BENCH_FLEET_H_
