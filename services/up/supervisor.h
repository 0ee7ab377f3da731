// Supervisor: the child processes of `micq up`, on Asio. A child's output
// and its exit are events (a pipe and a pidfd on the io_context), so up
// never polls and never blocks a thread: it waits for "listening on", it
// notices a child that dies, and it stops everything on Ctrl-C.
//
// Thread safety: use from the io_context's one thread.
#ifndef MICQ_UP_SUPERVISOR_H_
#define MICQ_UP_SUPERVISOR_H_

#include <sys/types.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace micq::up {

class Child {
 public:
  // Starts `argv` (argv[0] is the program path); stdout and stderr are read
  // through a pipe and echoed as "[name] line".
  static std::unique_ptr<Child> spawn(boost::asio::io_context& ioc, std::string name,
                                      std::vector<std::string> argv);
  ~Child();  // SIGKILLs a child that still runs

  // Reads output until a line containing `needle` or `timeout`; returns the
  // line, or nullopt (also when the child exits first).
  boost::asio::awaitable<std::optional<std::string>> wait_for_line(std::string needle,
                                                                   std::chrono::milliseconds timeout);
  // Keeps echoing output until the pipe closes.
  boost::asio::awaitable<void> echo_output();
  // Completes when the child exits; returns its exit code (128+signal).
  boost::asio::awaitable<int> wait_exit();
  // SIGTERM, then SIGKILL if it has not exited within `grace`.
  boost::asio::awaitable<void> stop(std::chrono::milliseconds grace);

  const std::string& name() const { return name_; }
  bool exited() const { return exit_code_.has_value(); }

 private:
  Child(boost::asio::io_context& ioc, std::string name);
  bool reap();
  boost::asio::awaitable<bool> read_line(std::string& line);

  std::string name_;
  pid_t pid_ = -1;
  boost::asio::posix::stream_descriptor out_;
  boost::asio::posix::stream_descriptor exit_;  // pidfd: readable once the child exits
  std::string pending_;
  std::optional<int> exit_code_;
};

// "listening on host:port" -> port, or 0.
int port_of_listening_line(const std::string& line);

}  // namespace micq::up

#endif  // MICQ_UP_SUPERVISOR_H_
