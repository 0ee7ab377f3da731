// Child: one child process, started with posix_spawn and owned until it has
// exited and been reaped. What every micq component that runs another
// program goes through: the integration tests' harness, the tests' private
// redis-server and the supervisor of `micq up` and `micq bench` (over
// AsyncChild, async_child.h).
//
// A child gets its argv, the inherited environment with `env` laid over
// it, a working directory, and for each of stdin, stdout and stderr ours,
// /dev/null or (stdout and stderr) one pipe we read: captured output, both
// streams interleaved as written. It gets no other descriptor: ours are
// all close-on-exec and the child closes any it would inherit above 2. Its
// exit is an event, a pidfd that polls readable once it exits (pid() may
// be reused only after the reap, which only this object does).
//
// Never a leak: the destructor SIGKILLs a child still running and reaps
// it, and closes the pipe and the pidfd.
//
// The blocking facade (wait_for_line, read_line, wait_exit, terminate) is for tests
// and tools: it polls the pidfd and the pipe, reading output into output()
// while it waits, so a chatty child never stalls on a full pipe. On an
// io_context use AsyncChild instead, which waits on the same descriptors
// without blocking a thread.
//
// Example:
//   Command command{.program = "redis-server", .args = {"--port", "7000"}};
//   auto child = Child::start(command);          // or child.error()
//   if (!child->wait_for_line("Ready to accept", 10s)) ...  // child->output()
//   ExitStatus status = child->terminate(10s);   // SIGTERM; SIGKILL after 10 s
//
// Thread safety: start() may be called from any thread at once (a
// descriptor of one start never reaches another's child). A Child is one
// owner's: no two threads call into the same Child at once.
#ifndef MICQ_PROCESS_CHILD_H_
#define MICQ_PROCESS_CHILD_H_

#include <signal.h>
#include <sys/types.h>

#include <boost/system/result.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace micq::process {

// How a child ended.
struct ExitStatus {
  int code = 0;    // what it passed to exit(), when `signal` is 0; -1: unknown (reaped by another waiter)
  int signal = 0;  // the signal that killed it, or 0
  // The shell's number for it: `code`, or 128 + `signal`.
  int shell_code() const { return signal ? 128 + signal : code; }
  friend bool operator==(const ExitStatus&, const ExitStatus&) = default;
};

enum class Input {
  kInherit,  // our stdin
  kNull,     // /dev/null
};

enum class Output {
  kInherit,  // ours
  kDiscard,  // /dev/null
  kCapture,  // the pipe we read (one pipe for stdout and stderr when both say so)
};

struct Command {
  // A path (relative to `working_dir` when one is given), or a name looked
  // up in our PATH.
  std::string program = {};
  std::vector<std::string> args = {};  // argv[1..]; argv[0] is `program`
  // "NAME=value" entries added to our environment, each replacing an
  // inherited entry of the same name.
  std::vector<std::string> env = {};
  std::string working_dir = {};  // empty: ours
  Input stdin_from = Input::kInherit;
  Output stdout_to = Output::kCapture;
  Output stderr_to = Output::kCapture;
};

class Child {
 public:
  // Starts `command`; the error is the errno of what failed (ENOENT: no
  // such program), with no child left behind.
  static boost::system::result<Child> start(const Command& command);

  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;  // ends the child this one held, as the destructor
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();  // SIGKILLs and reaps a child still running; closes its descriptors

  pid_t pid() const { return pid_; }
  // Readable (POLLIN) once the child has exited; owned by this object.
  int pidfd() const { return pidfd_; }
  // The read end of the captured output, or -1 (nothing captured, or the
  // pipe ended or closed); owned by this object. A reader of its own (an
  // Asio descriptor) must not mix with the blocking calls below.
  int output_fd() const { return output_fd_; }

  // Sends `signo` through the pidfd; false once the child is reaped.
  bool signal(int signo);
  // Reaps the child if it has exited; never blocks.
  std::optional<ExitStatus> try_wait();
  // Once reaped.
  const std::optional<ExitStatus>& exit_status() const { return exit_; }

  // --- Blocking facade ---

  // Captured output read so far by the calls below.
  const std::string& output() const { return output_; }
  // The first complete line of output() containing `needle`, read so far
  // or arriving within `timeout`; nullopt on timeout or at end of output.
  std::optional<std::string> wait_for_line(std::string_view needle, std::chrono::milliseconds timeout);
  // The next complete line of output() that read_line has not returned
  // yet (the first, at the first call), read so far or arriving within
  // `timeout`; nullopt on timeout or at end of output. For a child whose
  // every line counts (a subscriber's messages), where wait_for_line
  // would find a line again.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  // Waits up to `timeout` for the exit (reading output meanwhile, and what
  // is left of it after); nullopt if the child still runs.
  std::optional<ExitStatus> wait_exit(std::chrono::milliseconds timeout);
  // `signo`, then SIGKILL if the child has not exited within `grace`;
  // returns once it has exited. A stopped child is continued (SIGCONT) so
  // that it can act on `signo`.
  ExitStatus terminate(std::chrono::milliseconds grace, int signo = SIGTERM);
  // Stops reading output: the pipe is closed, and what the child writes
  // to it from now on fails (EPIPE, or SIGPIPE if it does not ignore it).
  void close_output();

 private:
  Child(pid_t pid, int pidfd, int output_fd) : pid_(pid), pidfd_(pidfd), output_fd_(output_fd) {}
  // What the destructor does: no child, no descriptor left.
  void release();
  // Waits for the exit until `deadline` (none: as long as it takes).
  std::optional<ExitStatus> wait_until(std::optional<std::chrono::steady_clock::time_point> deadline);
  // Reads what output arrives within `timeout_ms` (0: what is there now),
  // once; false if nothing was read (none came, or the pipe ended).
  bool read_output(int timeout_ms);
  // The first complete line of output() from offset `from` on that
  // contains `needle`, with the offset just past it; waits for output up
  // to `timeout` as wait_for_line does.
  std::optional<std::pair<std::string, std::size_t>> find_line(std::size_t from, std::string_view needle,
                                                               std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int output_fd_ = -1;
  std::optional<ExitStatus> exit_;
  std::string output_;
  std::size_t next_line_ = 0;  // where read_line's next line starts in output_
};

}  // namespace micq::process

#endif  // MICQ_PROCESS_CHILD_H_
