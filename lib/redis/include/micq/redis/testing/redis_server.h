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
//
//   // A node of a cluster (tests/integration/cluster_test.cpp):
//   RedisServer node({.port = ports[0], .cluster_node = true});
#ifndef MICQ_REDIS_TESTING_REDIS_SERVER_H_
#define MICQ_REDIS_TESTING_REDIS_SERVER_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "micq/process/child.h"

namespace micq::redis::testing {

struct RedisServerOptions {
  std::uint16_t port = 0;     // 0: a free loopback port
  bool cluster_node = false;  // cluster mode (redis::cluster_node_args), for redis-cli --cluster create
  std::string binary = "/usr/bin/redis-server";
  std::chrono::milliseconds timeout = std::chrono::seconds(10);  // to accept connections
};

class RedisServer {
 public:
  // Starts the server and waits until it accepts connections; throws
  // std::runtime_error (with its output) if it does not within the
  // options' timeout.
  RedisServer() : RedisServer(RedisServerOptions{}) {}
  explicit RedisServer(RedisServerOptions options);
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

  const RedisServerOptions options_;
  std::string dir_;
  std::uint16_t port_ = 0;
  std::optional<process::Child> server_;  // while it runs
};

}  // namespace micq::redis::testing

#endif  // MICQ_REDIS_TESTING_REDIS_SERVER_H_
