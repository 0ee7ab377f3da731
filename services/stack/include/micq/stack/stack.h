// Stack: the processes of a micq system on loopback, as `micq up` and
// `micq bench` start them — a private redis-server or a Redis Cluster
// (temporary directory, free ports), micq subcommands and haproxy in front
// of a fleet, each started in order and waited for until it is ready.
// Stopping is in reverse order of start.
//
// Example:
//   Stack stack(ioc, Child::Output::kEcho);
//   auto redis = co_await stack.start_private_redis();   // "127.0.0.1:port"
//   int sim = co_await stack.start_micq("sim", sim_args); // its port, 0 if it failed
//   ...
//   co_await stack.stop_all();
//
// Thread safety: use from the io_context's one thread.
#ifndef MICQ_STACK_STACK_H_
#define MICQ_STACK_STACK_H_

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "micq/stack/supervisor.h"

namespace micq::stack {

// `bytes` random bytes from std::random_device as hex: a secret such as
// the events token of a stack we start.
std::string random_hex(std::size_t bytes);

class Stack {
 public:
  Stack(boost::asio::io_context& ioc, Child::Output output);
  ~Stack();  // kills what still runs and removes the temporary directory

  // A redis-server on a free port with no persistence, in a temporary
  // directory removed with the stack. Returns "127.0.0.1:<port>", or
  // nullopt after saying why on stderr.
  boost::asio::awaitable<std::optional<std::string>> start_private_redis();

  // A Redis Cluster of `masters` redis-server nodes with
  // `replicas_per_master` replicas each, on free loopback ports (each node
  // also needs port + 10000, its cluster bus), formed with `redis-cli
  // --cluster create` and waited for until every node says cluster_state:ok.
  // Nodes are children named "redis-<port>". Returns the seeds,
  // "127.0.0.1:<port>,..." (every node), or nullopt after saying why.
  boost::asio::awaitable<std::optional<std::string>> start_redis_cluster(int masters = 3,
                                                                         int replicas_per_master = 0);

  // Debian's haproxy (haproxy_config.h) on `listen` ("address:port"; port 0:
  // a free loopback port), round robin over serve instances on
  // 127.0.0.1:<backend_ports>, its config in the stack's temporary
  // directory; waited for until it accepts connections. A child named
  // "haproxy". Returns its port, or 0 after saying why.
  boost::asio::awaitable<int> start_haproxy(std::vector<int> backend_ports,
                                            std::string listen = "127.0.0.1:0");

  // Debian's `prometheus` on a free loopback port with `config` (YAML) as
  // its configuration, its data in the stack's temporary directory.
  // Returns the port, or 0 after saying why.
  boost::asio::awaitable<int> start_prometheus(std::string config);

  // Starts `micq <args>` (args[0] is the subcommand) named `name` and waits
  // for its "listening on" line. Returns the port, or 0 after saying why.
  // Once a child is ready the stack keeps reading its output (echoed or
  // kept, as `output` says), so a chatty child never blocks on a full pipe.
  boost::asio::awaitable<int> start_micq(std::string name, std::vector<std::string> args);

  // Stops the running child named `name` (SIGTERM, SIGKILL after `grace`).
  boost::asio::awaitable<void> stop(std::string name, std::chrono::milliseconds grace);
  // Stops the children started since children().size() was `first`, last
  // started first; the stack goes on (e.g. one bench stage's processes).
  boost::asio::awaitable<void> stop_started_since(std::size_t first, std::chrono::milliseconds grace);
  // Stops every child, last started first; nothing starts afterwards.
  boost::asio::awaitable<void> stop_all(std::chrono::milliseconds grace);

  // The running child named `name`, or null.
  Child* find(const std::string& name) const;
  // Every child started, running or not. A Child lives as long as the
  // stack, so coroutines watching one never outlive it.
  const std::vector<std::unique_ptr<Child>>& children() const { return children_; }

 private:
  boost::asio::io_context& ioc_;
  const Child::Output output_;
  std::string micq_;
  std::string work_dir_;  // made on first use by ensure_work_dir()
  bool ensure_work_dir();
  // Spawns `argv` as child `name` and waits for `ready_line`; false after
  // complaining with `hint` when it does not come.
  boost::asio::awaitable<bool> spawn_and_wait(std::string name, std::vector<std::string> argv,
                                              std::string ready_line, std::chrono::milliseconds timeout,
                                              std::string hint);
  bool stopping_ = false;  // set by stop_all: nothing starts after it
  std::vector<std::unique_ptr<Child>> children_;
};

}  // namespace micq::stack

#endif  // MICQ_STACK_STACK_H_
