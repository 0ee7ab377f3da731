// AsyncChild: a Child (child.h) on an io_context. Its captured output and
// its exit are events on Asio descriptors (the pipe and the pidfd), so
// reading a line, waiting for the exit and stopping it with a bounded wait
// suspend a coroutine and never block a thread: what the supervisor of
// `micq up` and `micq bench` (services/stack) is built on.
//
// Example:
//   auto started = Child::start(command);
//   AsyncChild child(executor, std::move(*started));
//   while (true) {
//     auto line = co_await child.read_line();
//     if (!line) break;  // the end of output
//     std::puts(line->c_str());
//   }
//   auto stopping = child.terminate(5s);          // SIGTERM; SIGKILL after 5 s
//   std::optional<ExitStatus> status = co_await std::move(stopping);
//
// The destructor is the Child's: a child still running is SIGKILLed and
// reaped (that one wait blocks, briefly, on a process that cannot refuse).
//
// Thread safety: use from one thread at a time, the executor's (a strand,
// or an io_context run by one thread). Several coroutines may wait for the
// exit at once; one at a time reads lines.
#ifndef MICQ_PROCESS_ASYNC_CHILD_H_
#define MICQ_PROCESS_ASYNC_CHILD_H_

#include <signal.h>
#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "micq/process/child.h"

namespace micq::process {

class AsyncChild {
 public:
  // Takes `child` over, its descriptors registered with `executor`'s
  // io_context.
  AsyncChild(const boost::asio::any_io_executor& executor, Child child);
  ~AsyncChild();
  AsyncChild(const AsyncChild&) = delete;
  AsyncChild& operator=(const AsyncChild&) = delete;

  // The next line of captured output, without its '\n'; nullopt at the end
  // of output (a last line with no '\n' is dropped), when nothing is
  // captured, or if the read was cancelled (what was read stays for the
  // next call).
  boost::asio::awaitable<std::optional<std::string>> read_line();
  // Completes once the child has exited, with its status (nullopt if the
  // wait was cancelled first).
  boost::asio::awaitable<std::optional<ExitStatus>> wait_exit();
  // `signo`, then SIGKILL if the child has not exited within `grace`;
  // completes once it has exited. A stopped child is continued (SIGCONT)
  // so that it can act on `signo`.
  boost::asio::awaitable<std::optional<ExitStatus>> terminate(std::chrono::milliseconds grace,
                                                              int signo = SIGTERM);

  pid_t pid() const { return child_.pid(); }
  bool signal(int signo) { return child_.signal(signo); }
  // Once reaped (by wait_exit or terminate, or try_wait).
  const std::optional<ExitStatus>& exit_status() const { return child_.exit_status(); }
  std::optional<ExitStatus> try_wait() { return child_.try_wait(); }

 private:
  Child child_;  // owns the descriptors below: they are released, not closed
  boost::asio::posix::stream_descriptor output_;
  boost::asio::posix::stream_descriptor exit_;  // the pidfd: readable once the child exits
  std::string pending_;                         // output read past the last line returned
};

}  // namespace micq::process

#endif  // MICQ_PROCESS_ASYNC_CHILD_H_
