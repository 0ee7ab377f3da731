// A private redis-server: the one micq runs for itself, for the tests
// (redis/testing/redis_server.h), `micq up` and `micq bench`
// (services/stack). Loopback only, no persistence (no RDB snapshot, no
// AOF), its files in a directory of its own; ready once it logs
// kServerReadyLine on stdout.
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

}  // namespace micq::redis

#endif  // MICQ_REDIS_PRIVATE_SERVER_H_
