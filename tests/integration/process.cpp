#include "process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

extern char** environ;

namespace micq::testing {

using namespace std::chrono;

ChildProcess::ChildProcess(std::vector<std::string> args, std::vector<std::string> env)
    : ChildProcess(Program{MICQ_BINARY}, std::move(args), std::move(env)) {}

ChildProcess::ChildProcess(Program program, std::vector<std::string> args, std::vector<std::string> env) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  std::vector<std::string> argv_storage{program.path};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  // `env` wins over the inherited entry of the same name.
  auto overridden = [&](const char* entry) {
    for (const auto& e : env) {
      auto eq = e.find('=');
      if (eq != std::string::npos && std::strncmp(entry, e.c_str(), eq + 1) == 0) return true;
    }
    return false;
  };
  for (char** e = environ; *e; ++e)
    if (!overridden(*e)) env_storage.emplace_back(*e);
  env_storage.insert(env_storage.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  int rc = posix_spawn(&pid_, program.path.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error(std::string("posix_spawn failed: ") + std::strerror(rc));
  }
  out_fd_ = fds[0];
  pid_fd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
}

ChildProcess::~ChildProcess() {
  if (!exit_code_) {
    ::kill(pid_, SIGKILL);
    wait_exit(seconds(10));
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (pid_fd_ >= 0) close(pid_fd_);
}

bool ChildProcess::read_some(milliseconds timeout) {
  if (eof_) return false;
  pollfd pfd{out_fd_, POLLIN, 0};
  int ready = poll(&pfd, 1, static_cast<int>(timeout.count()));
  if (ready <= 0) return true;
  char buffer[4096];
  ssize_t n = read(out_fd_, buffer, sizeof buffer);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  output_.append(buffer, static_cast<std::size_t>(n));
  return true;
}

std::optional<std::string> ChildProcess::wait_for_line(std::string_view needle, milliseconds timeout) {
  auto deadline = steady_clock::now() + timeout;
  std::size_t from = 0;
  while (true) {
    // Complete lines only.
    std::size_t line_start = from;
    while (true) {
      std::size_t end = output_.find('\n', line_start);
      if (end == std::string::npos) break;
      std::string_view line(output_.data() + line_start, end - line_start);
      if (line.find(needle) != std::string_view::npos) return std::string(line);
      line_start = end + 1;
    }
    from = line_start;
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0 || !read_some(left)) return std::nullopt;
  }
}

int ChildProcess::wait_listening(milliseconds timeout) {
  auto line = wait_for_line("listening on", timeout);
  if (!line) return 0;
  auto colon = line->rfind(':');
  return colon == std::string::npos ? 0 : std::atoi(line->c_str() + colon + 1);
}

void ChildProcess::signal(int signo) { ::kill(pid_, signo); }

std::optional<int> ChildProcess::wait_exit(milliseconds timeout) {
  if (exit_code_) return exit_code_;
  auto deadline = steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      while (read_some(milliseconds(0)) && !eof_) {
      }
      return exit_code_;
    }
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    // Wake on the exit (pidfd readable) or on output to drain (a full pipe
    // would otherwise stall the child).
    pollfd pfds[2] = {{pid_fd_, POLLIN, 0}, {eof_ ? -1 : out_fd_, POLLIN, 0}};
    poll(pfds, 2, static_cast<int>(left.count()));
    if (pfds[1].revents) read_some(milliseconds(0));
  }
}

std::optional<int> ChildProcess::terminate(milliseconds timeout) {
  signal(SIGTERM);
  return wait_exit(timeout);
}

Service start_service(std::vector<std::string> args, std::vector<std::string> env) {
  bool has_listen = false;
  for (const auto& a : args) has_listen = has_listen || a == "--listen";
  if (!has_listen) {
    args.push_back("--listen");
    args.push_back("127.0.0.1:0");
  }
  Service service;
  service.process = std::make_unique<ChildProcess>(std::move(args), std::move(env));
  service.port = service.process->wait_listening();
  if (service.port == 0) {
    throw std::runtime_error("service did not start listening; output:\n" + service.process->output());
  }
  return service;
}

std::vector<int> children_of(int parent) {
  std::vector<int> children;
  std::error_code ec;
  for (std::filesystem::directory_iterator entry("/proc", ec), end; !ec && entry != end;
       entry.increment(ec)) {
    int pid = std::atoi(entry->path().filename().c_str());
    if (pid <= 0) continue;
    std::ifstream stat(entry->path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto close = text.rfind(')');
    if (close == std::string::npos || close + 4 >= text.size()) continue;
    if (std::atoi(text.c_str() + close + 4) == parent) children.push_back(pid);
  }
  return children;
}

bool alive(int pid) { return ::kill(pid, 0) == 0; }

}  // namespace micq::testing
