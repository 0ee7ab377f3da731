// Test harness: a real micq process on loopback, over micq::process::Child
// (lib/process): output (stdout+stderr) is read through a pipe; waiting
// for a log line or for the exit polls the pipe and a pidfd — events,
// never sleeps.
#ifndef MICQ_TESTS_PROCESS_H_
#define MICQ_TESTS_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "micq/process/child.h"

namespace micq::testing {

// Another program than build/micq, for ChildProcess.
struct Program {
  std::string path;
};

class ChildProcess {
 public:
  // Runs build/micq with `args`; `env` entries ("NAME=value") are added to
  // the inherited environment.
  ChildProcess(std::vector<std::string> args, std::vector<std::string> env = {});
  // Runs `program` with `args` (haproxy, say), as above. Throws
  // std::runtime_error if it cannot start.
  ChildProcess(Program program, std::vector<std::string> args, std::vector<std::string> env = {});
  // The destructor kills the process if it still runs.

  // The first line containing `needle` (read so far or arriving within
  // `timeout`), or nullopt on timeout or end of output.
  std::optional<std::string> wait_for_line(std::string_view needle,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // Waits for "listening on host:port" and returns the port, or 0.
  int wait_listening(std::chrono::milliseconds timeout = std::chrono::seconds(20));

  void signal(int signo);

  // Waits for the exit; returns the exit code (128+signal if killed), or
  // nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // SIGTERM and wait_exit().
  std::optional<int> terminate(std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // The next line of output not yet returned by read_line (each line
  // once, in order), or nullopt on timeout or end of output.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = std::chrono::seconds(20));

  const std::string& output() const { return child_.output(); }
  pid_t pid() const { return child_.pid(); }

 private:
  process::Child child_;
};

// A service started and listening: `micq <args> --listen 127.0.0.1:0`.
struct Service {
  std::unique_ptr<ChildProcess> process;
  int port = 0;
};
Service start_service(std::vector<std::string> args, std::vector<std::string> env = {});

// Runs `program` with `args` to its end (killed after `timeout`) and
// returns what it wrote (stdout and stderr).
std::string output_of(Program program, std::vector<std::string> args,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20));

// What `redis-cli -p <port> <words>` writes (stdout and stderr): `words`
// split at spaces, `""` standing for an empty argument (MIGRATE's key).
std::string redis_cli(int port, const std::string& words);

// The pids whose parent is `parent` (from /proc/<pid>/stat).
std::vector<int> children_of(int parent);
// Whether `pid` exists (signal 0).
bool alive(int pid);

}  // namespace micq::testing

#endif  // MICQ_TESTS_PROCESS_H_
