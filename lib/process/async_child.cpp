#include "micq/process/async_child.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

namespace micq::process {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

AsyncChild::AsyncChild(const asio::any_io_executor& executor, Child child)
    : child_(std::move(child)), output_(executor), exit_(executor) {
  if (child_.output_fd() >= 0) output_.assign(child_.output_fd());
  exit_.assign(child_.pidfd());
}

AsyncChild::~AsyncChild() {
  // The Child closes them.
  output_.release();
  exit_.release();
}

asio::awaitable<std::optional<std::string>> AsyncChild::read_line() {
  if (!output_.is_open()) co_return std::nullopt;
  auto [ec, n] = co_await asio::async_read_until(output_, asio::dynamic_buffer(pending_), '\n', use_tuple);
  if (ec) co_return std::nullopt;
  std::string line = pending_.substr(0, n - 1);
  pending_.erase(0, n);
  co_return line;
}

asio::awaitable<std::optional<ExitStatus>> AsyncChild::wait_exit() {
  while (true) {
    if (auto status = child_.try_wait()) co_return status;
    auto [ec] = co_await exit_.async_wait(asio::posix::stream_descriptor::wait_read, use_tuple);
    if (ec && ec != asio::error::interrupted) co_return child_.try_wait();
  }
}

asio::awaitable<std::optional<ExitStatus>> AsyncChild::terminate(std::chrono::milliseconds grace, int signo) {
  if (auto status = child_.try_wait()) co_return status;
  child_.signal(signo);
  if (signo != SIGKILL && signo != SIGCONT) child_.signal(SIGCONT);
  asio::steady_timer deadline(exit_.get_executor(), grace);
  auto exit_or_deadline = wait_exit() || deadline.async_wait(use_tuple);
  auto outcome = co_await std::move(exit_or_deadline);
  if (outcome.index() == 0 && std::get<0>(outcome)) co_return std::get<0>(outcome);
  if (auto status = child_.try_wait()) co_return status;
  child_.signal(SIGKILL);
  auto killed = wait_exit();
  co_return co_await std::move(killed);
}

}  // namespace micq::process
