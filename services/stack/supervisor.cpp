#include "micq/stack/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace micq::stack {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {
constexpr std::size_t kRecentLines = 40;
}  // namespace

Child::Child(asio::io_context& ioc, std::string name, Output output)
    : name_(std::move(name)), out_(ioc), exit_(ioc), output_(output) {}

std::unique_ptr<Child> Child::spawn(asio::io_context& ioc, std::string name, std::vector<std::string> argv,
                                    Output output) {
  std::unique_ptr<Child> child(new Child(ioc, std::move(name), output));
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  int rc = posix_spawnp(&child->pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  child->out_.assign(fds[0]);
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, child->pid_, 0));
  if (pidfd < 0) throw std::runtime_error("pidfd_open failed");
  child->exit_.assign(pidfd);
  return child;
}

Child::~Child() {
  if (!exit_code_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
}

bool Child::reap() {
  if (exit_code_) return true;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return true;
}

asio::awaitable<bool> Child::read_line(std::string& line) {
  auto [ec, n] = co_await asio::async_read_until(out_, asio::dynamic_buffer(pending_), '\n', use_tuple);
  if (ec) co_return false;
  line = pending_.substr(0, n - 1);
  pending_.erase(0, n);
  if (output_ == Output::kEcho) {
    std::printf("[%s] %s\n", name_.c_str(), line.c_str());
    std::fflush(stdout);
  } else {
    if (recent_.size() == kRecentLines) recent_.pop_front();
    recent_.push_back(line);
  }
  co_return true;
}

std::string Child::recent_output() const {
  std::string out;
  for (const auto& line : recent_) out += "[" + name_ + "] " + line + "\n";
  return out;
}

asio::awaitable<std::optional<std::string>> Child::wait_for_line(std::string needle,
                                                                 std::chrono::milliseconds timeout) {
  asio::steady_timer deadline(co_await asio::this_coro::executor, timeout);
  auto search = [&]() -> asio::awaitable<std::optional<std::string>> {
    std::string line;
    while (co_await read_line(line)) {
      if (line.find(needle) != std::string::npos) co_return line;
    }
    co_return std::nullopt;
  };
  auto found = co_await (search() || deadline.async_wait(use_tuple));
  if (found.index() == 0) co_return std::get<0>(found);
  co_return std::nullopt;
}

asio::awaitable<void> Child::echo_output() {
  std::string line;
  while (co_await read_line(line)) {
  }
}

asio::awaitable<int> Child::wait_exit() {
  while (!reap()) {
    auto [ec] = co_await exit_.async_wait(asio::posix::stream_descriptor::wait_read, use_tuple);
    if (ec && ec != asio::error::interrupted) {
      reap();
      break;
    }
  }
  co_return exit_code_.value_or(-1);
}

asio::awaitable<void> Child::stop(std::chrono::milliseconds grace) {
  if (reap()) co_return;
  ::kill(pid_, SIGTERM);
  asio::steady_timer deadline(co_await asio::this_coro::executor, grace);
  auto outcome = co_await (wait_exit() || deadline.async_wait(use_tuple));
  if (outcome.index() == 1 && !reap()) {
    ::kill(pid_, SIGKILL);
    co_await wait_exit();
  }
}

int port_of_listening_line(const std::string& line) {
  auto at = line.find("listening on ");
  if (at == std::string::npos) return 0;
  auto colon = line.rfind(':');
  return colon == std::string::npos ? 0 : std::atoi(line.c_str() + colon + 1);
}

}  // namespace micq::stack
