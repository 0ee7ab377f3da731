// Supervisor: the child processes of `micq up` and `micq bench`, on Asio,
// each a named process::AsyncChild (lib/process). A child's output and its
// exit are events (a pipe and a pidfd on the io_context), so nobody polls
// or blocks a thread: we wait for "listening on", notice a child that
// dies, and stop everything on Ctrl-C.
//
// Thread safety: use from the io_context's one thread.
#ifndef MICQ_STACK_SUPERVISOR_H_
#define MICQ_STACK_SUPERVISOR_H_

#include <sys/types.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "micq/process/async_child.h"

namespace micq::stack {

class Child {
 public:
  enum class Output {
    kEcho,   // each line printed as "[name] line" (micq up)
    kQuiet,  // only the last lines kept, for recent_output() (micq bench)
  };
  // Starts `argv` (argv[0] is the program: a path, or a name looked up in
  // PATH); stdout and stderr are read through one pipe. Throws
  // std::runtime_error if it cannot start.
  static std::unique_ptr<Child> spawn(boost::asio::io_context& ioc, std::string name,
                                      std::vector<std::string> argv, Output output = Output::kEcho);
  // The destructor SIGKILLs and reaps a child that still runs.

  // Reads output until a line containing `needle` or `timeout`; returns the
  // line, or nullopt (also when the child exits first).
  boost::asio::awaitable<std::optional<std::string>> wait_for_line(std::string needle,
                                                                   std::chrono::milliseconds timeout);
  // Keeps reading (and echoing, or keeping) output until the pipe closes.
  boost::asio::awaitable<void> echo_output();
  // Completes when the child exits; returns its exit code (128+signal).
  boost::asio::awaitable<int> wait_exit();
  // SIGTERM, then SIGKILL if it has not exited within `grace`.
  boost::asio::awaitable<void> stop(std::chrono::milliseconds grace);

  const std::string& name() const { return name_; }
  pid_t pid() const { return process_.pid(); }
  // Whether its exit has been seen (by wait_exit or stop).
  bool exited() const { return process_.exit_status().has_value(); }
  // The last lines of a quiet child's output, oldest first.
  std::string recent_output() const;

 private:
  Child(boost::asio::io_context& ioc, std::string name, Output output, process::Child process);
  // The next line, echoed or kept; nullopt at the end of output.
  boost::asio::awaitable<std::optional<std::string>> read_line();

  const std::string name_;
  const Output output_;
  process::AsyncChild process_;
  std::deque<std::string> recent_;  // quiet children: the last kRecentLines lines
};

// "listening on host:port" -> port, or 0.
int port_of_listening_line(const std::string& line);

}  // namespace micq::stack

#endif  // MICQ_STACK_SUPERVISOR_H_
