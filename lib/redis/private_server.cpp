#include "micq/redis/private_server.h"

#include "micq/process/ports.h"

namespace micq::redis {

std::vector<std::string> private_server_args(std::uint16_t port, const std::string& dir) {
  return {"--port",       std::to_string(port),  // where it listens,
          "--bind",       "127.0.0.1",           // loopback only
          "--save",       "",                    // no RDB snapshot
          "--appendonly", "no",                  // no AOF
          "--dir",        dir};
}

std::vector<std::uint16_t> free_cluster_ports(int count) {
  std::vector<std::uint16_t> ports;
  for (int attempt = 0; attempt < 50 * count && static_cast<int>(ports.size()) < count; ++attempt) {
    auto port = process::free_loopback_port();
    if (!port || *port + kClusterBusOffset > 65535) continue;
    const int bus = *port + kClusterBusOffset;
    bool clash = false;
    for (int taken : ports) clash |= taken == *port || taken == bus || taken + kClusterBusOffset == *port;
    if (!clash && process::loopback_port_free(static_cast<std::uint16_t>(bus))) ports.push_back(*port);
  }
  return ports;
}

std::vector<std::string> cluster_node_args(std::uint16_t port, const std::string& dir) {
  std::vector<std::string> args = private_server_args(port, dir);
  for (const char* arg : {"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",  //
                          "--cluster-node-timeout", "2000"})
    args.emplace_back(arg);
  return args;
}

std::vector<std::string> cluster_create_args(const std::vector<std::uint16_t>& ports,
                                             int replicas_per_master) {
  std::vector<std::string> args = {"--cluster", "create"};
  for (std::uint16_t port : ports) args.push_back("127.0.0.1:" + std::to_string(port));
  for (std::string arg :
       {std::string("--cluster-replicas"), std::to_string(replicas_per_master), std::string("--cluster-yes")})
    args.push_back(std::move(arg));
  return args;
}

}  // namespace micq::redis
