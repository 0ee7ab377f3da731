#include "micq/stack/commands.h"

#include <utility>

namespace micq::stack {

namespace {

std::string local_url(int port) { return "http://127.0.0.1:" + std::to_string(port); }

std::vector<std::string> with(std::vector<std::string> command, const std::vector<std::string>& flags) {
  command.insert(command.end(), flags.begin(), flags.end());
  return command;
}

}  // namespace

std::vector<std::string> sim_command(const std::string& kinds, const std::vector<std::string>& flags) {
  return with({"sim", "--listen", "127.0.0.1:0", "--kinds", kinds}, flags);
}

std::vector<std::string> aggregator_command(const std::string& kinds, int sim_port) {
  return {"aggregator", "--listen", "127.0.0.1:0", "--kinds", kinds, "--downstream", local_url(sim_port)};
}

std::vector<std::string> serve_command(const ServeWiring& wiring, const std::vector<std::string>& flags) {
  std::vector<std::string> command = {"serve", "--listen", wiring.listen};
  if (wiring.redis.empty()) {
    command.push_back("--redis-cluster");
    command.push_back(wiring.redis_cluster);
  } else {
    command.push_back("--redis");
    command.push_back(wiring.redis);
  }
  command = with(std::move(command),
                 {"--aggregator", local_url(wiring.aggregator_port), "--events-token", wiring.events_token});
  return with(std::move(command), flags);
}

}  // namespace micq::stack
