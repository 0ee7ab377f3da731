#include "micq/stack/supervisor.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <stdexcept>

namespace micq::stack {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {
constexpr std::size_t kRecentLines = 40;
}  // namespace

Child::Child(asio::io_context& ioc, std::string name, Output output, process::Child process)
    : name_(std::move(name)), output_(output), process_(ioc.get_executor(), std::move(process)) {}

std::unique_ptr<Child> Child::spawn(asio::io_context& ioc, std::string name, std::vector<std::string> argv,
                                    Output output) {
  process::Command command;
  command.program = argv.at(0);
  command.args.assign(argv.begin() + 1, argv.end());
  auto started = process::Child::start(command);
  if (!started) throw std::runtime_error("cannot start " + argv[0] + ": " + started.error().message());
  return std::unique_ptr<Child>(new Child(ioc, std::move(name), output, std::move(*started)));
}

asio::awaitable<std::optional<std::string>> Child::read_line() {
  auto line = co_await process_.read_line();
  if (!line) co_return std::nullopt;
  if (output_ == Output::kEcho) {
    std::printf("[%s] %s\n", name_.c_str(), line->c_str());
    std::fflush(stdout);
  } else {
    if (recent_.size() == kRecentLines) recent_.pop_front();
    recent_.push_back(*line);
  }
  co_return line;
}

std::string Child::recent_output() const {
  std::string out;
  for (const auto& line : recent_) out += "[" + name_ + "] " + line + "\n";
  return out;
}

asio::awaitable<std::optional<std::string>> Child::wait_for_line(std::string needle,
                                                                 std::chrono::milliseconds timeout) {
  asio::steady_timer deadline(co_await asio::this_coro::executor, timeout);
  auto search = [&]() -> asio::awaitable<std::optional<std::string>> {
    while (true) {
      auto line = co_await read_line();
      if (!line || line->find(needle) != std::string::npos) co_return line;
    }
  };
  auto found = co_await (search() || deadline.async_wait(use_tuple));
  if (found.index() == 0) co_return std::get<0>(found);
  co_return std::nullopt;
}

asio::awaitable<void> Child::echo_output() {
  while (true) {
    // A statement of its own: this coroutine has no other local, and g++ 12
    // corrupts the frame of such a coroutine that co_awaits in a condition
    // (PR 106188, docs/design.md).
    auto line = co_await read_line();
    if (!line) co_return;
  }
}

asio::awaitable<int> Child::wait_exit() {
  auto status = co_await process_.wait_exit();
  co_return status ? status->shell_code() : -1;
}

asio::awaitable<void> Child::stop(std::chrono::milliseconds grace) {
  auto stopping = process_.terminate(grace);
  co_await std::move(stopping);
}

int port_of_listening_line(const std::string& line) {
  auto at = line.find("listening on ");
  if (at == std::string::npos) return 0;
  auto colon = line.rfind(':');
  return colon == std::string::npos ? 0 : std::atoi(line.c_str() + colon + 1);
}

}  // namespace micq::stack
