// Test helper: a private redis-server (micq/redis/private_server.h) on a
// free loopback port, in its own temporary directory, a process::Child
// (lib/process). Readiness is an event (the "Ready to accept connections"
// line on its stdout, read through a pipe), not a connect-and-retry loop.
//
// Example:
//   micq::redis::testing::RedisServer server;
//   RedisClient redis(executor, {"127.0.0.1", server.port()});
//   server.kill();     // Redis gone (SIGKILL)
//   server.restart();  // back on the same port, empty
#ifndef MICQ_REDIS_TESTING_REDIS_SERVER_H_
#define MICQ_REDIS_TESTING_REDIS_SERVER_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "micq/process/child.h"

namespace micq::redis::testing {

class RedisServer {
 public:
  // Starts the server and waits until it accepts connections; throws
  // std::runtime_error (with its output) if it does not within `timeout`.
  explicit RedisServer(std::string binary = "/usr/bin/redis-server",
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~RedisServer();  // kills the server if it still runs, removes its directory
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const { return port_; }
  bool running() const { return server_.has_value(); }

  // SIGTERM and wait for the exit (SIGKILL if it takes over 10 s).
  void stop();
  // SIGKILL and wait for the exit.
  void kill();
  // SIGSTOP: Redis stops answering with its connections open, as a Redis
  // stalled by a long command or a paused VM does; resume() is SIGCONT.
  void pause();
  void resume();
  // Starts again on the same port (stopping it first if it runs). The data
  // is gone: nothing is persisted.
  void restart();

 private:
  void start();
  void terminate(int signo);

  const std::string binary_;
  const std::chrono::milliseconds timeout_;
  std::string dir_;
  std::uint16_t port_ = 0;
  std::optional<process::Child> server_;  // while it runs
};

}  // namespace micq::redis::testing

#endif  // MICQ_REDIS_TESTING_REDIS_SERVER_H_
