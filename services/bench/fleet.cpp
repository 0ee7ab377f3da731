#include "fleet.h"

#include <charconv>
#include <cstdio>

#include "micq/redis/cluster.h"
#include "micq/stack/commands.h"

namespace micq::bench {

namespace asio = boost::asio;

namespace {

// Argument lists, made by functions so a co_await expression may take them:
// g++ 12 rejects a braced list inside one (PR 103871, docs/design.md).
std::vector<std::string> serve_instance_args(const FleetPlan& plan, const std::string& seeds,
                                             int aggregator_port) {
  return stack::serve_command(
      {.redis_cluster = seeds, .aggregator_port = aggregator_port, .events_token = plan.events_token},
      plan.serve_flags);
}

http::Upstream local(int port) { return {"127.0.0.1", static_cast<std::uint16_t>(port)}; }

void add_pid(stack::Stack& stack, const std::string& name, std::vector<pid_t>& pids) {
  if (auto* child = stack.find(name)) pids.push_back(child->pid());
}

}  // namespace

boost::system::result<std::vector<int>, std::string> parse_fleet_sizes(std::string_view text) {
  std::vector<int> sizes;
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    int size = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), size);
    if (ec != std::errc() || end != part.data() + part.size() || size < 1 || size > kMaxFleetSize)
      return std::string("expected a comma list of instance counts, each 1..") +
             std::to_string(kMaxFleetSize) + ", e.g. 1,2,4";
    sizes.push_back(size);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    if (text.empty()) return std::string("a trailing comma in the instance counts");
  }
  if (sizes.empty()) return std::string("expected at least one instance count, e.g. 1,2,4");
  return sizes;
}

asio::awaitable<boost::system::result<Endpoints, std::string>> start_fleet(stack::Stack& stack,
                                                                           FleetPlan plan) {
  auto forming = stack.start_redis_cluster(3, 0);
  auto seeds = co_await std::move(forming);
  if (!seeds) co_return std::string("the Redis Cluster did not start");
  auto starting_sim = stack.start_micq("sim", plan.sim_args);
  int sim = co_await std::move(starting_sim);
  if (!sim) co_return std::string("the sim did not start");
  auto starting_aggregator = stack.start_micq("aggregator", stack::aggregator_command(plan.kinds, sim));
  int aggregator = co_await std::move(starting_aggregator);
  if (!aggregator) co_return std::string("the aggregator did not start");
  Endpoints endpoints;
  std::vector<int> ports;
  for (int i = 0; i < plan.instances; ++i) {
    std::string name = "serve-" + std::to_string(i);
    auto starting = stack.start_micq(name, serve_instance_args(plan, *seeds, aggregator));
    int port = co_await std::move(starting);
    if (!port) co_return "serve instance " + std::to_string(i) + " did not start";
    ports.push_back(port);
    endpoints.serve_instances.push_back(local(port));
    add_pid(stack, name, endpoints.pids[0]);
  }
  auto balancing = stack.start_haproxy(ports);
  int haproxy = co_await std::move(balancing);
  if (!haproxy) co_return std::string("haproxy did not start");

  endpoints.serve = local(haproxy);
  endpoints.aggregator = local(aggregator);
  endpoints.sim = local(sim);
  endpoints.events_token = plan.events_token;
  endpoints.events_to = endpoints.serve_instances[0];
  // Staleness across instances: what the others show of instance 0's events.
  if (plan.instances == 1) {
    endpoints.staleness_from.push_back(endpoints.serve_instances[0]);
  } else {
    endpoints.staleness_from.assign(endpoints.serve_instances.begin() + 1, endpoints.serve_instances.end());
  }
  add_pid(stack, "aggregator", endpoints.pids[1]);
  add_pid(stack, "sim", endpoints.pids[2]);
  auto nodes = redis::parse_seeds(*seeds);
  if (nodes) endpoints.redis_nodes = *nodes;
  for (const auto& node : endpoints.redis_nodes)
    add_pid(stack, "redis-" + std::to_string(node.port), endpoints.pids[3]);
  co_return endpoints;
}

std::vector<StageSpec> fleet_stages(int instances, double events_per_second) {
  char rate[32];
  std::snprintf(rate, sizeof rate, "%g events/s", events_per_second);
  StageSpec quiet;
  quiet.name = "N=" + std::to_string(instances) + ", no events";
  quiet.strategy = "cached";
  quiet.with_events = false;
  StageSpec busy = quiet;
  busy.name = "N=" + std::to_string(instances) + ", " + rate;
  busy.with_events = true;
  return {quiet, busy};
}

}  // namespace micq::bench
