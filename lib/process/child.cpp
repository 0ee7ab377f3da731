#include "micq/process/child.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

extern char** environ;

namespace micq::process {

namespace {

using namespace std::chrono;

boost::system::error_code system_error(int error) {
  return boost::system::error_code(error, boost::system::system_category());
}

ExitStatus status_of(int wait_status) {
  if (WIFSIGNALED(wait_status)) return ExitStatus{0, WTERMSIG(wait_status)};
  return ExitStatus{WEXITSTATUS(wait_status), 0};
}

// Blocks until `pid` is reaped (or was, by someone else).
void reap_blocking(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

// The environment a child gets: ours, `env` winning over an inherited
// entry of the same name.
std::vector<std::string> environment_with(const std::vector<std::string>& env) {
  auto overridden = [&](const char* entry) {
    for (const auto& e : env) {
      auto eq = e.find('=');
      if (eq != std::string::npos && std::strncmp(entry, e.c_str(), eq + 1) == 0) return true;
    }
    return false;
  };
  std::vector<std::string> merged;
  for (char** e = environ; *e; ++e)
    if (!overridden(*e)) merged.emplace_back(*e);
  merged.insert(merged.end(), env.begin(), env.end());
  return merged;
}

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (auto& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// posix_spawn's file actions, destroyed with this.
class FileActions {
 public:
  FileActions() { posix_spawn_file_actions_init(&actions_); }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

}  // namespace

boost::system::result<Child> Child::start(const Command& command) {
  const bool capture = command.stdout_to == Output::kCapture || command.stderr_to == Output::kCapture;
  int pipe_fds[2] = {-1, -1};
  if (capture && pipe2(pipe_fds, O_CLOEXEC) != 0) return system_error(errno);
  FileActions actions;
  int rc = 0;  // the first file action that failed
  auto add = [&rc](int result) {
    if (rc == 0) rc = result;
  };
  if (command.stdin_from == Input::kNull)
    add(posix_spawn_file_actions_addopen(actions.get(), 0, "/dev/null", O_RDONLY, 0));
  auto route = [&](Output to, int fd) {
    if (to == Output::kDiscard)
      add(posix_spawn_file_actions_addopen(actions.get(), fd, "/dev/null", O_WRONLY, 0));
    if (to == Output::kCapture) add(posix_spawn_file_actions_adddup2(actions.get(), pipe_fds[1], fd));
  };
  route(command.stdout_to, 1);
  route(command.stderr_to, 2);
  // Ours are close-on-exec; this also keeps from the child any descriptor
  // someone else opened without O_CLOEXEC.
  add(posix_spawn_file_actions_addclosefrom_np(actions.get(), 3));
  if (!command.working_dir.empty())
    add(posix_spawn_file_actions_addchdir_np(actions.get(), command.working_dir.c_str()));

  std::vector<std::string> argv_storage{command.program};
  argv_storage.insert(argv_storage.end(), command.args.begin(), command.args.end());
  std::vector<char*> argv = pointers_to(argv_storage);
  std::vector<std::string> env_storage;
  std::vector<char*> envp;
  if (!command.env.empty()) {
    env_storage = environment_with(command.env);
    envp = pointers_to(env_storage);
  }
  pid_t pid = -1;
  if (rc == 0)
    rc = posix_spawnp(&pid, command.program.c_str(), actions.get(), nullptr, argv.data(),
                      envp.empty() ? environ : envp.data());
  if (pipe_fds[1] >= 0) close(pipe_fds[1]);
  if (rc != 0) {
    if (pipe_fds[0] >= 0) close(pipe_fds[0]);
    return system_error(rc);
  }
  // The child is ours and unreaped, so `pid` is still it.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    int error = errno;
    ::kill(pid, SIGKILL);
    reap_blocking(pid);
    if (pipe_fds[0] >= 0) close(pipe_fds[0]);
    return system_error(error);
  }
  return Child(pid, pidfd, pipe_fds[0]);
}

Child::Child(Child&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      output_fd_(std::exchange(other.output_fd_, -1)),
      exit_(std::exchange(other.exit_, std::nullopt)),
      output_(std::move(other.output_)),
      next_line_(std::exchange(other.next_line_, 0)) {}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    output_fd_ = std::exchange(other.output_fd_, -1);
    exit_ = std::exchange(other.exit_, std::nullopt);
    output_ = std::move(other.output_);
    next_line_ = std::exchange(other.next_line_, 0);
  }
  return *this;
}

Child::~Child() { release(); }

void Child::release() {
  if (pid_ > 0 && !exit_) {
    signal(SIGKILL);
    reap_blocking(pid_);
  }
  close_output();
  if (pidfd_ >= 0) close(pidfd_);
  pidfd_ = -1;
  pid_ = -1;
}

bool Child::signal(int signo) {
  if (pid_ <= 0 || exit_) return false;
  // Through the pidfd: even a child reaped behind our back (ECHILD) is
  // never confused with a process that took its pid.
  return syscall(SYS_pidfd_send_signal, pidfd_, signo, nullptr, 0) == 0;
}

std::optional<ExitStatus> Child::try_wait() {
  if (exit_ || pid_ <= 0) return exit_;
  int status = 0;
  pid_t done = waitpid(pid_, &status, WNOHANG);
  if (done == pid_) {
    exit_ = status_of(status);
  } else if (done < 0 && errno == ECHILD) {
    exit_ = ExitStatus{-1, 0};  // someone else reaped it (SIGCHLD ignored, or waitpid(-1))
  }
  return exit_;
}

bool Child::read_output(int timeout_ms) {
  if (output_fd_ < 0) return false;
  pollfd ready{output_fd_, POLLIN, 0};
  if (poll(&ready, 1, timeout_ms) <= 0) return false;
  char buffer[4096];
  ssize_t n = read(output_fd_, buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return false;
  if (n <= 0) {
    close_output();  // the end of output (every writer gone)
    return false;
  }
  output_.append(buffer, static_cast<std::size_t>(n));
  return true;
}

std::optional<std::string> Child::wait_for_line(std::string_view needle, milliseconds timeout) {
  auto found = find_line(0, needle, timeout);
  if (!found) return std::nullopt;
  return std::move(found->first);
}

std::optional<std::string> Child::read_line(milliseconds timeout) {
  auto found = find_line(next_line_, "", timeout);
  if (!found) return std::nullopt;
  next_line_ = found->second;
  return std::move(found->first);
}

std::optional<std::pair<std::string, std::size_t>> Child::find_line(std::size_t from, std::string_view needle,
                                                                    milliseconds timeout) {
  auto deadline = steady_clock::now() + timeout;
  std::size_t line_start = from;
  while (true) {
    // Complete lines only.
    for (auto end = output_.find('\n', line_start); end != std::string::npos;
         end = output_.find('\n', line_start)) {
      std::string_view line(output_.data() + line_start, end - line_start);
      if (line.find(needle) != std::string_view::npos) return std::pair(std::string(line), end + 1);
      line_start = end + 1;
    }
    auto left = ceil<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0 || output_fd_ < 0) return std::nullopt;
    read_output(static_cast<int>(left.count()));
  }
}

std::optional<ExitStatus> Child::wait_until(std::optional<steady_clock::time_point> deadline) {
  while (true) {
    if (auto status = try_wait()) {
      while (read_output(0)) {  // what it wrote before it exited
      }
      return status;
    }
    int timeout_ms = -1;
    if (deadline) {
      // Rounded up: the wait lasts at least until the deadline.
      auto left = ceil<milliseconds>(*deadline - steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      timeout_ms = static_cast<int>(left.count());
    }
    // Wake on the exit, or on output to read (a full pipe would stall the child).
    pollfd ready[2] = {{pidfd_, POLLIN, 0}, {output_fd_, POLLIN, 0}};
    poll(ready, output_fd_ >= 0 ? 2 : 1, timeout_ms);
    if (output_fd_ >= 0 && ready[1].revents) read_output(0);
  }
}

std::optional<ExitStatus> Child::wait_exit(milliseconds timeout) {
  return wait_until(steady_clock::now() + timeout);
}

ExitStatus Child::terminate(milliseconds grace, int signo) {
  if (auto status = try_wait()) return *status;
  signal(signo);
  if (signo != SIGKILL && signo != SIGCONT) signal(SIGCONT);
  if (auto status = wait_exit(grace)) return *status;
  signal(SIGKILL);
  return *wait_until(std::nullopt);
}

void Child::close_output() {
  if (output_fd_ >= 0) close(output_fd_);
  output_fd_ = -1;
}

}  // namespace micq::process
