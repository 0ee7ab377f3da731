#include "micq/stack/stack.h"

#include <stdlib.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "micq/process/ports.h"
#include "micq/redis/client.h"
#include "micq/redis/private_server.h"
#include "micq/stack/haproxy_config.h"

namespace micq::stack {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string random_hex(std::size_t bytes) {
  std::random_device device;
  std::string out;
  char two[3];
  for (std::size_t i = 0; i < bytes; ++i) {
    std::snprintf(two, sizeof two, "%02x", static_cast<unsigned>(device() & 0xff));
    out += two;
  }
  return out;
}

namespace {

// The path of the running micq executable, or "" if it cannot be read.
std::string self_executable() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : path.string();
}

// A free loopback port, or 0 if the kernel has none to give: the child then
// fails to start, and says so.
int free_port() { return process::free_loopback_port().value_or(0); }

// Command lines, made by functions so a co_await expression may take them:
// g++ 12 rejects a braced list inside one (PR 103871, docs/design.md).
std::vector<std::string> with_program(const std::string& program, std::vector<std::string> args) {
  args.insert(args.begin(), program);
  return args;
}

std::vector<std::string> redis_command(int port, const std::string& dir) {
  return with_program("redis-server", redis::private_server_args(static_cast<std::uint16_t>(port), dir));
}

std::vector<std::string> cluster_node_command(std::uint16_t port, const std::string& dir) {
  return with_program("redis-server", redis::cluster_node_args(port, dir));
}

std::vector<std::string> cluster_create_command(const std::vector<std::uint16_t>& ports,
                                                int replicas_per_master) {
  return with_program("redis-cli", redis::cluster_create_args(ports, replicas_per_master));
}

// Debian's haproxy, in the foreground (-db) so it is our child and stops with us.
constexpr const char* kHaproxy = "/usr/sbin/haproxy";
std::vector<std::string> haproxy_command(const std::string& config_path) {
  return {kHaproxy, "-db", "-f", config_path};
}

redis::Command cluster_info_command() { return {"CLUSTER", "INFO"}; }

// "host:0" -> "host:<a free port>"; anything else as given.
std::string with_free_port(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || listen.substr(colon + 1) != "0") return listen;
  return listen.substr(0, colon + 1) + std::to_string(free_port());
}

// Whether something accepts connections at `at` now.
asio::awaitable<bool> accepts(asio::ip::tcp::endpoint at) {
  asio::ip::tcp::socket probe(co_await asio::this_coro::executor);
  auto [ec] = co_await probe.async_connect(at, use_tuple);
  co_return !ec;
}

// Writes haproxy's config to `path`, listening on `listen` (port 0: a free
// one). Returns where to reach haproxy once it runs (0.0.0.0 reached on
// 127.0.0.1), or nullopt after saying why.
std::optional<asio::ip::tcp::endpoint> write_haproxy_config(const std::string& path,
                                                            const std::string& listen,
                                                            const std::vector<int>& backend_ports) {
  if (!std::filesystem::exists(kHaproxy)) {
    std::fprintf(stderr, "haproxy is not installed (apt-get install haproxy; ./scripts/up installs it)\n");
    return std::nullopt;
  }
  std::string address = with_free_port(listen);
  auto colon = address.rfind(':');
  std::string host = colon == std::string::npos ? "" : address.substr(0, colon);
  int port = colon == std::string::npos ? 0 : std::atoi(address.c_str() + colon + 1);
  if (host == "0.0.0.0" || host == "*") host = "127.0.0.1";
  boost::system::error_code parse_error;
  auto ip = asio::ip::make_address(host, parse_error);
  if (parse_error || port <= 0 || port > 65535) {
    std::fprintf(stderr, "haproxy: bad listen address %s\n", listen.c_str());
    return std::nullopt;
  }
  std::ofstream out(path);
  out << haproxy_config(address, backend_ports, haproxy_max_connections());
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return std::nullopt;
  }
  return asio::ip::tcp::endpoint(ip, static_cast<unsigned short>(port));
}

std::vector<std::string> prometheus_command(int port, const std::string& config, const std::string& dir) {
  return {"prometheus", "--config.file=" + config, "--storage.tsdb.path=" + dir + "/prometheus",
          "--web.listen-address=127.0.0.1:" + std::to_string(port)};
}

void complain(const Child& child, const std::string& what) {
  std::fprintf(stderr, "%s%s\n", child.recent_output().c_str(), what.c_str());
}

}  // namespace

Stack::Stack(asio::io_context& ioc, Child::Output output)
    : ioc_(ioc), output_(output), micq_(self_executable()) {}

Stack::~Stack() {
  children_.clear();  // each Child's destructor kills and reaps it
  if (!work_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(work_dir_, ignored);
  }
}

bool Stack::ensure_work_dir() {
  if (!work_dir_.empty()) return true;
  std::string path = "/tmp/micq-stack-XXXXXX";
  if (!mkdtemp(path.data())) {
    std::fprintf(stderr, "cannot create a temporary directory for the stack\n");
    return false;
  }
  work_dir_ = path;
  return true;
}

asio::awaitable<int> Stack::start_prometheus(std::string config) {
  if (stopping_ || !ensure_work_dir()) co_return 0;
  std::string config_path = work_dir_ + "/prometheus.yml";
  {
    std::ofstream out(config_path);
    out << config;
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", config_path.c_str());
      co_return 0;
    }
  }
  int port = free_port();
  children_.push_back(
      Child::spawn(ioc_, "prometheus", prometheus_command(port, config_path, work_dir_), output_));
  auto ready = co_await children_.back()->wait_for_line("Server is ready to receive web requests", 30s);
  if (!ready) {
    complain(*children_.back(), "prometheus did not start (is it installed? apt-get install prometheus)");
    co_return 0;
  }
  asio::co_spawn(ioc_, children_.back()->echo_output(), asio::detached);
  co_return port;
}

asio::awaitable<bool> Stack::spawn_and_wait(std::string name, std::vector<std::string> argv,
                                            std::string ready_line, std::chrono::milliseconds timeout,
                                            std::string hint) {
  children_.push_back(Child::spawn(ioc_, std::move(name), std::move(argv), output_));
  auto ready = co_await children_.back()->wait_for_line(ready_line, timeout);
  if (!ready) {
    complain(*children_.back(), hint);
    co_return false;
  }
  asio::co_spawn(ioc_, children_.back()->echo_output(), asio::detached);
  co_return true;
}

asio::awaitable<std::optional<std::string>> Stack::start_redis_cluster(int masters, int replicas_per_master) {
  if (stopping_ || !ensure_work_dir()) co_return std::nullopt;
  if (masters < 3 || replicas_per_master < 0) {
    std::fprintf(stderr, "a Redis Cluster needs at least 3 masters\n");
    co_return std::nullopt;
  }
  const int nodes = masters * (1 + replicas_per_master);
  std::vector<std::uint16_t> ports = redis::free_cluster_ports(nodes);
  if (static_cast<int>(ports.size()) != nodes) {
    std::fprintf(stderr, "cannot find %d free port pairs (port, port + 10000) for the cluster\n", nodes);
    co_return std::nullopt;
  }
  std::string seeds;
  for (std::uint16_t port : ports) {
    std::string dir = work_dir_ + "/cluster-" + std::to_string(port);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    auto starting = spawn_and_wait("redis-" + std::to_string(port), cluster_node_command(port, dir),
                                   std::string(redis::kServerReadyLine), 20s,
                                   "redis-server did not start (is it installed? ./scripts/up installs it)");
    bool started = co_await std::move(starting);
    if (!started) co_return std::nullopt;
    seeds += (seeds.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(port);
  }
  // redis-cli assigns the slots (and replicas), then waits for the nodes to
  // agree; bounded, as a wedged create would otherwise hang the stack.
  children_.push_back(Child::spawn(ioc_, "redis-cluster-create",
                                   cluster_create_command(ports, replicas_per_master), output_));
  Child& create = *children_.back();
  asio::co_spawn(ioc_, create.echo_output(), asio::detached);
  asio::steady_timer deadline(ioc_, 60s);
  auto exit_or_deadline = create.wait_exit() || deadline.async_wait(use_tuple);
  auto created = co_await std::move(exit_or_deadline);
  if (created.index() != 0 || std::get<0>(created) != 0) {
    if (created.index() != 0) co_await create.stop(1s);
    complain(create, "redis-cli --cluster create did not form the cluster");
    co_return std::nullopt;
  }
  // Redis announces no event for "every node agrees": ask each node, every
  // 50 ms for at most 20 s.
  auto executor = co_await asio::this_coro::executor;
  std::vector<std::unique_ptr<redis::RedisClient>> clients;
  for (std::uint16_t port : ports)
    clients.push_back(std::make_unique<redis::RedisClient>(executor, redis::Endpoint{"127.0.0.1", port}));
  asio::steady_timer pause(ioc_);
  for (int round = 0; round < 400 && !stopping_; ++round) {
    bool all_ok = true;
    for (auto& client : clients) {
      auto asking = client->command(cluster_info_command(), 500ms);
      auto info = co_await std::move(asking);
      all_ok = all_ok && info && info->str.find("cluster_state:ok") != std::string::npos;
      if (!all_ok) break;
    }
    if (all_ok) co_return seeds;
    pause.expires_after(50ms);
    co_await pause.async_wait(use_tuple);
  }
  std::fprintf(stderr, "the Redis Cluster on %s did not reach cluster_state:ok within 20 s\n", seeds.c_str());
  co_return std::nullopt;
}

asio::awaitable<int> Stack::start_haproxy(std::vector<int> backend_ports, std::string listen) {
  if (stopping_ || !ensure_work_dir()) co_return 0;
  std::string config_path = work_dir_ + "/haproxy.cfg";
  auto address = write_haproxy_config(config_path, listen, backend_ports);
  if (!address) co_return 0;
  children_.push_back(Child::spawn(ioc_, "haproxy", haproxy_command(config_path), output_));
  Child& haproxy = *children_.back();
  asio::co_spawn(ioc_, haproxy.echo_output(), asio::detached);
  // In the foreground (-db) haproxy says nothing once it listens: try to
  // connect, every 20 ms for at most 10 s, unless it exits first.
  asio::steady_timer pause(ioc_);
  for (int round = 0; round < 500 && !haproxy.exited() && !stopping_; ++round) {
    auto connecting = accepts(*address);
    bool listening = co_await std::move(connecting);
    if (listening) co_return address->port();
    pause.expires_after(20ms);
    co_await pause.async_wait(use_tuple);
  }
  complain(haproxy, "haproxy did not start listening on " + address->address().to_string() + ":" +
                        std::to_string(address->port()) +
                        (output_ == Child::Output::kEcho ? "; see above" : ""));
  co_return 0;
}

asio::awaitable<std::optional<std::string>> Stack::start_private_redis() {
  if (stopping_ || !ensure_work_dir()) co_return std::nullopt;
  int port = free_port();
  children_.push_back(Child::spawn(ioc_, "redis", redis_command(port, work_dir_), output_));
  auto waiting = children_.back()->wait_for_line(std::string(redis::kServerReadyLine), 20s);
  auto ready = co_await std::move(waiting);
  if (!ready) {
    complain(*children_.back(), "redis-server did not start (is it installed? ./scripts/up installs it)");
    co_return std::nullopt;
  }
  asio::co_spawn(ioc_, children_.back()->echo_output(), asio::detached);
  co_return "127.0.0.1:" + std::to_string(port);
}

asio::awaitable<int> Stack::start_micq(std::string name, std::vector<std::string> args) {
  if (stopping_) co_return 0;
  if (micq_.empty()) {
    std::fprintf(stderr, "cannot find my own executable\n");
    co_return 0;
  }
  children_.push_back(Child::spawn(ioc_, name, with_program(micq_, std::move(args)), output_));
  auto line = co_await children_.back()->wait_for_line("listening on", 20s);
  if (!line) {
    complain(*children_.back(),
             name + " did not start" + (output_ == Child::Output::kEcho ? "; see above" : ""));
    co_return 0;
  }
  asio::co_spawn(ioc_, children_.back()->echo_output(), asio::detached);
  co_return port_of_listening_line(*line);
}

asio::awaitable<void> Stack::stop(std::string name, std::chrono::milliseconds grace) {
  if (Child* child = find(name)) co_await child->stop(grace);
}

asio::awaitable<void> Stack::stop_started_since(std::size_t first, std::chrono::milliseconds grace) {
  for (std::size_t i = children_.size(); i > first; --i) co_await children_[i - 1]->stop(grace);
}

asio::awaitable<void> Stack::stop_all(std::chrono::milliseconds grace) {
  // From now on nothing new starts (a stop may race a start: Ctrl-C while
  // bench brings up the next stage's serve). A start spawns right after its
  // check without suspending, so children_ cannot grow while we wait; a
  // start already waiting for its child's "listening" line sees it exit.
  stopping_ = true;
  for (std::size_t i = children_.size(); i > 0; --i) co_await children_[i - 1]->stop(grace);
}

Child* Stack::find(const std::string& name) const {
  for (const auto& child : children_)
    if (child->name() == name && !child->exited()) return child.get();
  return nullptr;
}

}  // namespace micq::stack
