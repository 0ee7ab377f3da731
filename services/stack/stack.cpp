#include "micq/stack/stack.h"

#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

namespace micq::stack {

namespace asio = boost::asio;
using namespace std::chrono_literals;

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

// A port on 127.0.0.1 that was free a moment ago.
int free_port() {
  asio::io_context ioc;
  asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

// Command lines are built outside the coroutines: g++ 12 cannot place an
// initializer list's backing array in a coroutine frame.
std::vector<std::string> redis_command(int port, const std::string& dir) {
  return {"redis-server",
          "--port",
          std::to_string(port),
          "--bind",
          "127.0.0.1",
          "--save",
          "",
          "--appendonly",
          "no",
          "--dir",
          dir};
}

std::vector<std::string> prometheus_command(int port, const std::string& config, const std::string& dir) {
  return {"prometheus", "--config.file=" + config, "--storage.tsdb.path=" + dir + "/prometheus",
          "--web.listen-address=127.0.0.1:" + std::to_string(port)};
}

std::vector<std::string> with_program(const std::string& program, std::vector<std::string> args) {
  args.insert(args.begin(), program);
  return args;
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
  children_.push_back(Child::spawn(ioc_, "prometheus", prometheus_command(port, config_path, work_dir_), output_));
  auto ready = co_await children_.back()->wait_for_line("Server is ready to receive web requests", 30s);
  if (!ready) {
    complain(*children_.back(), "prometheus did not start (is it installed? apt-get install prometheus)");
    co_return 0;
  }
  asio::co_spawn(ioc_, children_.back()->echo_output(), asio::detached);
  co_return port;
}

asio::awaitable<std::optional<std::string>> Stack::start_private_redis() {
  if (stopping_ || !ensure_work_dir()) co_return std::nullopt;
  int port = free_port();
  children_.push_back(Child::spawn(ioc_, "redis", redis_command(port, work_dir_), output_));
  auto ready = co_await children_.back()->wait_for_line("Ready to accept connections", 20s);
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
