#include "micq/redis/private_server.h"

namespace micq::redis {

std::vector<std::string> private_server_args(std::uint16_t port, const std::string& dir) {
  return {"--port",       std::to_string(port),  // where it listens,
          "--bind",       "127.0.0.1",           // loopback only
          "--save",       "",                    // no RDB snapshot
          "--appendonly", "no",                  // no AOF
          "--dir",        dir};
}

}  // namespace micq::redis
