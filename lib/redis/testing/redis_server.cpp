#include "redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

extern char** environ;

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

// Waits up to `timeout` for `pid` to exit and reaps it; false if it still runs.
bool wait_exit(pid_t pid, milliseconds timeout) {
  int pid_fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pid_fd >= 0) {
    pollfd pfd{pid_fd, POLLIN, 0};
    poll(&pfd, 1, static_cast<int>(timeout.count()));
    close(pid_fd);
  }
  int status = 0;
  // Without a pidfd (old kernel) this blocks until the exit.
  pid_t done = waitpid(pid, &status, pid_fd >= 0 ? WNOHANG : 0);
  return done == pid || (done < 0 && errno == ECHILD);
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
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void RedisServer::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

void RedisServer::restart() {
  stop();
  start();
}

void RedisServer::start() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw errno_error("pipe2");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> args{binary_,  "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                "--save", "",       "--appendonly",        "no",     "--dir",
                                dir_};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, binary_.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error("posix_spawn " + binary_ + ": " + std::strerror(rc));
  }
  pid_ = pid;

  // Its log goes to stdout; the line below comes once it listens.
  std::string output;
  bool ready = false;
  auto deadline = steady_clock::now() + timeout_;
  while (!ready) {
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{fds[0], POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[4096];
    ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n <= 0) break;  // it exited (e.g. port taken)
    output.append(buffer, static_cast<std::size_t>(n));
    ready = output.find("Ready to accept connections") != std::string::npos;
  }
  // Redis ignores SIGPIPE once initialised, so its later log lines just fail
  // to write: nothing is left to fill up a pipe nobody reads.
  close(fds[0]);
  if (!ready) {
    terminate(SIGKILL);
    throw std::runtime_error("redis-server on port " + std::to_string(port_) + " did not start; output:\n" +
                             output);
  }
}

void RedisServer::terminate(int signo) {
  if (pid_ <= 0) return;
  ::kill(pid_, signo);
  ::kill(pid_, SIGCONT);  // a paused server acts on SIGTERM only once it runs
  if (!wait_exit(pid_, seconds(10))) {
    ::kill(pid_, SIGKILL);
    wait_exit(pid_, seconds(10));
  }
  pid_ = -1;
}

}  // namespace micq::redis::testing
