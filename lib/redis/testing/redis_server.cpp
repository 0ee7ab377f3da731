#include "micq/redis/testing/redis_server.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "micq/process/ports.h"
#include "micq/redis/private_server.h"

namespace micq::redis::testing {

namespace {

using namespace std::chrono;

std::runtime_error errno_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace

RedisServer::RedisServer(RedisServerOptions options) : options_(std::move(options)) {
  std::string pattern = (std::filesystem::temp_directory_path() / "micq-redis-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw errno_error("mkdtemp");
  dir_ = pattern;
  try {
    auto port = options_.port ? std::optional(options_.port) : process::free_loopback_port();
    if (!port) throw std::runtime_error("no free port on 127.0.0.1");
    port_ = *port;
    start();
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    throw;
  }
}

RedisServer::~RedisServer() {
  terminate(SIGKILL);
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void RedisServer::stop() { terminate(SIGTERM); }

void RedisServer::kill() { terminate(SIGKILL); }

void RedisServer::pause() {
  if (server_) server_->signal(SIGSTOP);
}

void RedisServer::resume() {
  if (server_) server_->signal(SIGCONT);
}

void RedisServer::restart() {
  stop();
  start();
}

void RedisServer::start() {
  process::Command command{.program = options_.binary,
                           .args = options_.cluster_node ? redis::cluster_node_args(port_, dir_)
                                                         : redis::private_server_args(port_, dir_)};
  command.stdin_from = process::Input::kNull;
  command.stderr_to = process::Output::kDiscard;
  auto started = process::Child::start(command);
  if (!started) throw std::runtime_error("posix_spawn " + options_.binary + ": " + started.error().message());
  server_.emplace(std::move(*started));
  // Its log goes to stdout; the line comes once it listens (none if it
  // exits first, e.g. port taken).
  bool ready = server_->wait_for_line(redis::kServerReadyLine, options_.timeout).has_value();
  // Redis ignores SIGPIPE once initialised, so its later log lines just fail
  // to write: nothing is left to fill up a pipe nobody reads.
  server_->close_output();
  if (!ready) {
    std::string output = server_->output();
    terminate(SIGKILL);
    throw std::runtime_error("redis-server on port " + std::to_string(port_) + " did not start; output:\n" +
                             output);
  }
}

// `signo`, SIGKILL if it is still there after 10 s (a paused server is
// continued, as it acts on SIGTERM only once it runs).
void RedisServer::terminate(int signo) {
  if (!server_) return;
  server_->terminate(seconds(10), signo);
  server_.reset();
}

}  // namespace micq::redis::testing
