#include "redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "micq/redis/private_server.h"

namespace micq::redis::testing {

namespace {

using namespace std::chrono;

std::runtime_error errno_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

// A port the kernel just handed out for 127.0.0.1 (free now; another process
// could take it before redis-server binds it, which tests accept).
std::uint16_t free_loopback_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw errno_error("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    auto error = errno_error("bind 127.0.0.1:0");
    close(fd);
    throw error;
  }
  close(fd);
  return ntohs(address.sin_port);
}

}  // namespace

RedisServer::RedisServer(std::string binary, milliseconds timeout)
    : binary_(std::move(binary)), timeout_(timeout) {
  std::string pattern = (std::filesystem::temp_directory_path() / "micq-redis-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw errno_error("mkdtemp");
  dir_ = pattern;
  try {
    port_ = free_loopback_port();
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
  process::Command command{.program = binary_, .args = redis::private_server_args(port_, dir_)};
  command.stdin_from = process::Input::kNull;
  command.stderr_to = process::Output::kDiscard;
  auto started = process::Child::start(command);
  if (!started) throw std::runtime_error("posix_spawn " + binary_ + ": " + started.error().message());
  server_.emplace(std::move(*started));
  // Its log goes to stdout; the line comes once it listens (none if it
  // exits first, e.g. port taken).
  bool ready = server_->wait_for_line(redis::kServerReadyLine, timeout_).has_value();
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
