// AsyncChild on a one-thread io_context against real programs: lines and
// the end of output, the exit as an event that leaves the thread free,
// several waiters, a cancelled wait, terminate and its escalation.
#include "micq/process/async_child.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace micq::process {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

Command shell(std::string script) { return Command{.program = "/bin/sh", .args = {"-c", std::move(script)}}; }
Command long_running() { return Command{.program = "sleep", .args = {"30"}}; }

std::unique_ptr<AsyncChild> started(asio::io_context& ioc, const Command& command) {
  auto child = Child::start(command);
  if (!child) throw std::runtime_error("cannot start " + command.program + ": " + child.error().message());
  return std::make_unique<AsyncChild>(ioc.get_executor(), std::move(*child));
}

// Runs `task` on `ioc` (bounded, so that a hang fails instead) and returns
// its result, or nullopt if it did not finish.
template <class T>
std::optional<T> run(asio::io_context& ioc, asio::awaitable<T> task) {
  std::optional<T> result;
  asio::co_spawn(ioc, std::move(task), [&](const std::exception_ptr& error, T value) {
    if (!error) result = std::move(value);
  });
  ioc.run_for(20s);
  return result;
}

asio::awaitable<std::vector<std::string>> all_lines(AsyncChild& child) {
  std::vector<std::string> lines;
  while (true) {
    auto line = co_await child.read_line();
    if (!line) co_return lines;
    lines.push_back(*line);
  }
}

TEST(AsyncChild, ReadsLinesUntilTheEndOfOutput) {
  asio::io_context ioc;
  auto child = started(ioc, shell("echo one; echo two >&2; printf 'no newline'"));
  auto lines = run(ioc, all_lines(*child));
  ASSERT_TRUE(lines);
  EXPECT_EQ(*lines, (std::vector<std::string>{"one", "two"}));
  ioc.restart();
  auto status = run(ioc, child->wait_exit());
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, (ExitStatus{0, 0}));
  EXPECT_EQ(child->exit_status(), *status);
}

asio::awaitable<std::optional<ExitStatus>> exit_after_signal_from_another_coroutine(AsyncChild& child) {
  // The signal is sent by a handler that can run only while this
  // coroutine's wait leaves the thread free.
  asio::post(co_await asio::this_coro::executor, [&child] { child.signal(SIGTERM); });
  co_return co_await child.wait_exit();
}

TEST(AsyncChild, WaitingForTheExitLeavesTheThreadFree) {
  asio::io_context ioc(1);
  auto child = started(ioc, long_running());
  auto status = run(ioc, exit_after_signal_from_another_coroutine(*child));
  ASSERT_TRUE(status) << "the wait blocked the io_context's one thread";
  EXPECT_EQ(*status, (ExitStatus{0, SIGTERM}));
}

asio::awaitable<void> count_sigterm_exit(AsyncChild& child, int& woken) {
  auto status = co_await child.wait_exit();
  if (status && status->signal == SIGTERM) ++woken;
}

asio::awaitable<int> two_waiters(AsyncChild& child) {
  auto executor = co_await asio::this_coro::executor;
  int woken = 0;
  asio::co_spawn(executor, count_sigterm_exit(child, woken), asio::detached);
  asio::co_spawn(executor, count_sigterm_exit(child, woken), asio::detached);
  asio::post(executor, [&child] { child.signal(SIGTERM); });
  auto waited = child.wait_exit();
  co_await std::move(waited);
  // The waiters complete on the same readiness, queued before this timer.
  asio::steady_timer later(executor, 0ms);
  co_await later.async_wait(use_tuple);
  co_return woken;
}

TEST(AsyncChild, SeveralCoroutinesMayWaitForTheExitAtOnce) {
  asio::io_context ioc(1);
  auto child = started(ioc, long_running());
  EXPECT_EQ(run(ioc, two_waiters(*child)), 2);
}

asio::awaitable<bool> cancelled_wait_then_real_one(AsyncChild& child) {
  asio::steady_timer deadline(co_await asio::this_coro::executor, 20ms);
  auto exit_or_deadline = child.wait_exit() || deadline.async_wait(use_tuple);
  auto outcome = co_await std::move(exit_or_deadline);
  if (outcome.index() != 1 || child.exit_status()) co_return false;  // the child runs: the deadline wins
  child.signal(SIGTERM);
  auto status = co_await child.wait_exit();
  co_return status && status->signal == SIGTERM;
}

TEST(AsyncChild, ACancelledWaitLeavesTheChildToALaterOne) {
  asio::io_context ioc(1);
  auto child = started(ioc, long_running());
  EXPECT_EQ(run(ioc, cancelled_wait_then_real_one(*child)), true);
}

TEST(AsyncChild, TerminateEndsAChildThatObeysWithItsSignal) {
  asio::io_context ioc(1);
  auto child = started(ioc, long_running());
  auto status = run(ioc, child->terminate(20s));
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, (ExitStatus{0, SIGTERM}));
}

asio::awaitable<std::optional<ExitStatus>> ready_then_terminate(AsyncChild& child,
                                                                std::chrono::milliseconds grace) {
  while (true) {
    auto line = co_await child.read_line();
    if (!line || *line == "ready") break;
  }
  auto stopping = child.terminate(grace);
  co_return co_await std::move(stopping);
}

TEST(AsyncChild, TerminateEscalatesToSigkillAfterTheGrace) {
  asio::io_context ioc(1);
  auto child = started(ioc, shell("trap '' TERM; echo ready; exec sleep 30"));  // SIGTERM ignored
  auto began = std::chrono::steady_clock::now();
  auto status = run(ioc, ready_then_terminate(*child, 200ms));
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, (ExitStatus{0, SIGKILL}));
  EXPECT_GE(std::chrono::steady_clock::now() - began, 200ms) << "SIGKILL only after the grace";
}

TEST(AsyncChild, DestroyingItKillsAndReapsARunningChild) {
  pid_t pid = -1;
  {
    asio::io_context ioc(1);
    auto child = started(ioc, long_running());
    pid = child->pid();
  }
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

}  // namespace
}  // namespace micq::process
