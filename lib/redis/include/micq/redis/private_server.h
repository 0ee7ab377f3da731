// A private redis-server: the one micq runs for itself, for the tests
// (micq/redis/testing/redis_server.h, the integration tests' cluster), `micq
// up` and `micq bench` (services/stack). Loopback only, no persistence (no
// RDB snapshot, no AOF), its files in a directory of its own; ready once
// it logs kServerReadyLine on stdout. A private Redis Cluster is such
// servers in cluster mode, joined by `redis-cli --cluster create`.
//
// Example:
//   process::Command command{.program = "redis-server",
//                            .args = private_server_args(port, dir)};
//   ... child.wait_for_line(kServerReadyLine, 10s) ...
//
// Thread safety: pure functions.
#ifndef MICQ_REDIS_PRIVATE_SERVER_H_
#define MICQ_REDIS_PRIVATE_SERVER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace micq::redis {

// What redis-server logs once it accepts connections.
inline constexpr std::string_view kServerReadyLine = "Ready to accept connections";

// redis-server's arguments (argv[1..]) for a private server on
// 127.0.0.1:<port> with its files in `dir`.
std::vector<std::string> private_server_args(std::uint16_t port, const std::string& dir);

// A cluster node also listens on its port + this (the cluster bus).
inline constexpr int kClusterBusOffset = 10000;

// `count` distinct ports for cluster nodes on 127.0.0.1: each free, its
// bus port free, and neither one another node's. Fewer if the machine has
// none to give.
std::vector<std::uint16_t> free_cluster_ports(int count);

// redis-server's arguments for a node of a private cluster: a private
// server (as above) in cluster mode, its nodes.conf in `dir`, and a node
// deemed failed after 2 s (Redis's default is 15): a dead master's replica
// takes over within seconds, which fault tests and demos can wait for.
std::vector<std::string> cluster_node_args(std::uint16_t port, const std::string& dir);

// redis-cli's arguments that join the nodes on `ports` into one cluster,
// `replicas_per_master` replicas to each master, without asking.
std::vector<std::string> cluster_create_args(const std::vector<std::uint16_t>& ports,
                                             int replicas_per_master);

}  // namespace micq::redis

#endif  // MICQ_REDIS_PRIVATE_SERVER_H_
