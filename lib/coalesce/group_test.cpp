#include "micq/coalesce/group.h"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/system/result.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "micq/coalesce/testing/gate.h"

namespace micq::coalesce {
namespace {

namespace asio = boost::asio;
using testing::Gate;
using StringGroup = Group<std::string, std::string>;
using namespace std::chrono_literals;

// Every coroutine of a test reports here; a test asserts on it after the
// io_context ran dry.
struct Outcomes {
  std::vector<Result<std::string>> results;
  int completed = 0;
};

asio::awaitable<void> call(StringGroup& group, std::string key, Gate& gate, int& loads, std::string value,
                           Outcomes& out, StringGroup::WaitTimeout timeout = std::nullopt) {
  auto loader = [&gate, &loads, value]() -> asio::awaitable<std::string> {
    ++loads;
    co_await gate.wait();
    co_return value;
  };
  Result<std::string> result = co_await group.run(key, loader, timeout);
  out.results.push_back(result);
  ++out.completed;
}

void spawn(asio::io_context& ctx, asio::awaitable<void> task) {
  asio::co_spawn(ctx, std::move(task), [](const std::exception_ptr& e) {
    if (e) std::rethrow_exception(e);
  });
}

// For coroutine lambdas: co_spawn keeps the lambda (and its captures) alive
// while the coroutine runs; calling it in place would not.
template <class F>
void spawn_fn(asio::io_context& ctx, F f) {
  asio::co_spawn(ctx, std::move(f), [](const std::exception_ptr& e) {
    if (e) std::rethrow_exception(e);
  });
}

class GroupTest : public ::testing::Test {
 protected:
  asio::io_context ctx;
  StringGroup group;
  Gate gate{ctx.get_executor()};
  int loads = 0;
  Outcomes out;

  // `n` callers of one key with `loader`, held until all have joined, then
  // run to the end.
  template <class Loader>
  void run_waiters(int n, Loader& loader) {
    for (int i = 0; i < n; ++i) {
      spawn_fn(ctx, [this, &loader]() -> asio::awaitable<void> {
        auto r = co_await group.run("room", loader);
        out.results.push_back(r);
        ++out.completed;
      });
    }
    ctx.poll();
    gate.open();
    ctx.run();
  }
};

TEST_F(GroupTest, DupSuppress) {
  for (int i = 0; i < 10; ++i) spawn(ctx, call(group, "room", gate, loads, "page", out));
  ctx.poll();
  EXPECT_EQ(loads, 1);
  EXPECT_EQ(group.stats().callers_coalesced, 9u);
  gate.open();
  ctx.run();
  ASSERT_EQ(out.completed, 10);
  for (auto& r : out.results) {
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r.value, "page");
    EXPECT_TRUE(r.shared);
    EXPECT_EQ(r.value.get(), out.results[0].value.get()) << "value must be shared, not copied";
  }
  EXPECT_EQ(group.in_flight(), 0u);
}

TEST_F(GroupTest, SingleCallerIsNotShared) {
  gate.open();
  spawn(ctx, call(group, "room", gate, loads, "page", out));
  ctx.run();
  ASSERT_EQ(out.completed, 1);
  EXPECT_TRUE(out.results[0].ok());
  EXPECT_FALSE(out.results[0].shared);
}

TEST_F(GroupTest, ErrorReachesEveryWaiterAndFreesTheKey) {
  auto failing = [&]() -> asio::awaitable<std::string> {
    ++loads;
    co_await gate.wait();
    throw std::runtime_error("redis down");
  };
  run_waiters(5, failing);
  ASSERT_EQ(out.completed, 5);
  for (auto& r : out.results) {
    EXPECT_EQ(r.status, Status::kLoadFailed);
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error, out.results[0].error) << "one exception, shared";
    try {
      std::rethrow_exception(r.error);
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "redis down");
    }
  }
  EXPECT_EQ(loads, 1);
  EXPECT_EQ(group.in_flight(), 0u);

  // The key is not wedged: the next call loads again.
  ctx.restart();
  spawn(ctx, call(group, "room", gate, loads, "page", out));
  ctx.run();
  EXPECT_EQ(loads, 2);
  EXPECT_TRUE(out.results.back().ok());
}

// A failure as the service sees it; a loader returns it instead of throwing.
struct DependencyDown {
  int status = 503;
  std::string code;
};

TEST_F(GroupTest, AReturnedErrorReachesEveryWaiterAsOneSharedValue) {
  auto failing = [&]() -> asio::awaitable<boost::system::result<std::string, DependencyDown>> {
    ++loads;
    co_await gate.wait();
    co_return DependencyDown{503, "redis_unavailable"};
  };
  run_waiters(5, failing);
  ASSERT_EQ(out.completed, 5);
  for (auto& r : out.results) {
    EXPECT_EQ(r.status, Status::kLoadFailed);
    EXPECT_FALSE(r.error) << "nothing was thrown";
    const DependencyDown* down = r.error_as<DependencyDown>();
    ASSERT_NE(down, nullptr);
    EXPECT_EQ(down->code, "redis_unavailable");
    EXPECT_EQ(down, out.results[0].error_as<DependencyDown>()) << "one error value, shared";
    EXPECT_EQ(r.error_as<std::string>(), nullptr) << "read only as the type it has";
  }
  EXPECT_EQ(loads, 1);
  EXPECT_EQ(group.in_flight(), 0u);

  // The key is not wedged, and a result holding a value is a value.
  ctx.restart();
  auto working = [&]() -> asio::awaitable<boost::system::result<std::string, DependencyDown>> {
    ++loads;
    co_return std::string("page");
  };
  spawn_fn(ctx, [&]() -> asio::awaitable<void> {
    auto r = co_await group.run("room", working);
    out.results.push_back(r);
  });
  ctx.run();
  EXPECT_EQ(loads, 2);
  ASSERT_TRUE(out.results.back().ok());
  EXPECT_EQ(*out.results.back().value, "page");
  EXPECT_FALSE(out.results.back().error_value);
}

TEST_F(GroupTest, LoaderThrowingBeforeItsFirstSuspensionIsDelivered) {
  // Not a coroutine: throws while being called.
  auto throws_at_once = []() -> asio::awaitable<std::string> { throw std::logic_error("bad key"); };
  spawn_fn(ctx, [&]() -> asio::awaitable<void> {
    auto r = co_await group.run("room", throws_at_once);
    out.results.push_back(r);
  });
  ctx.run();
  ASSERT_EQ(out.results.size(), 1u);
  EXPECT_EQ(out.results[0].status, Status::kLoadFailed);
  EXPECT_EQ(group.in_flight(), 0u);
}

TEST_F(GroupTest, ForgetStartsAFreshLoadWhileTheOldOneFinishesForItsWaiters) {
  Gate second_gate{ctx.get_executor()};
  int second_loads = 0;
  Outcomes first_out, second_out;
  spawn(ctx, call(group, "room", gate, loads, "old", first_out));
  ctx.poll();
  EXPECT_TRUE(group.forget("room"));
  spawn(ctx, call(group, "room", second_gate, second_loads, "new", second_out));
  spawn(ctx, call(group, "room", second_gate, second_loads, "new", second_out));
  ctx.poll();
  EXPECT_EQ(loads, 1);
  EXPECT_EQ(second_loads, 1);

  gate.open();  // the forgotten load ends first...
  ctx.poll();
  ASSERT_EQ(first_out.completed, 1);
  EXPECT_EQ(*first_out.results[0].value, "old");
  // ...and must not remove the new flight, which is not its own.
  EXPECT_EQ(group.in_flight(), 1u);
  spawn(ctx, call(group, "room", gate, loads, "unused", second_out));
  ctx.poll();
  EXPECT_EQ(loads, 1) << "a caller after the old load ended joins the new flight";

  second_gate.open();
  ctx.run();
  ASSERT_EQ(second_out.completed, 3);
  for (auto& r : second_out.results) EXPECT_EQ(*r.value, "new");
}

TEST_F(GroupTest, ForgetOfAnIdleKeyReportsNothingInFlight) { EXPECT_FALSE(group.forget("room")); }

TEST_F(GroupTest, OverlappingKeysLoadIndependently) {
  Gate other_gate{ctx.get_executor()};
  int other_loads = 0;
  Outcomes other_out;
  spawn(ctx, call(group, "a", gate, loads, "page-a", out));
  spawn(ctx, call(group, "b", other_gate, other_loads, "page-b", other_out));
  spawn(ctx, call(group, "a", gate, loads, "page-a", out));
  ctx.poll();
  EXPECT_EQ(group.in_flight(), 2u);
  other_gate.open();
  ctx.poll();
  ASSERT_EQ(other_out.completed, 1);
  EXPECT_EQ(*other_out.results[0].value, "page-b");
  EXPECT_EQ(out.completed, 0) << "key a is still loading";
  gate.open();
  ctx.run();
  ASSERT_EQ(out.completed, 2);
  EXPECT_EQ(*out.results[0].value, "page-a");
  EXPECT_EQ(loads, 1);
  EXPECT_EQ(other_loads, 1);
}

TEST_F(GroupTest, CancelledWaiterLeavesAndTheOthersStillGetTheValue) {
  asio::cancellation_signal cancel;
  Outcomes cancelled;
  asio::co_spawn(ctx, call(group, "room", gate, loads, "page", cancelled),
                 asio::bind_cancellation_slot(cancel.slot(), asio::detached));
  spawn(ctx, call(group, "room", gate, loads, "page", out));
  ctx.poll();
  cancel.emit(asio::cancellation_type::terminal);
  ctx.poll();
  ASSERT_EQ(cancelled.completed, 1) << "the cancelled caller left before the load finished";
  EXPECT_EQ(cancelled.results[0].status, Status::kCancelled);
  EXPECT_EQ(group.in_flight(), 1u);
  gate.open();
  ctx.run();
  ASSERT_EQ(out.completed, 1);
  EXPECT_EQ(*out.results[0].value, "page");
  EXPECT_EQ(loads, 1);
}

TEST_F(GroupTest, FirstCallerCancellationDoesNotCancelTheLoad) {
  asio::cancellation_signal cancel;
  Outcomes first;
  // The first caller starts the load...
  asio::co_spawn(ctx, call(group, "room", gate, loads, "page", first),
                 asio::bind_cancellation_slot(cancel.slot(), asio::detached));
  ctx.poll();
  spawn(ctx, call(group, "room", gate, loads, "other", out));
  ctx.poll();
  // ...and goes away.
  cancel.emit(asio::cancellation_type::terminal);
  gate.open();
  ctx.run();
  ASSERT_EQ(first.completed, 1);
  EXPECT_EQ(first.results[0].status, Status::kCancelled);
  ASSERT_EQ(out.completed, 1);
  ASSERT_TRUE(out.results[0].ok());
  EXPECT_EQ(*out.results[0].value, "page") << "the first caller's load served the second";
  EXPECT_EQ(loads, 1);
}

TEST_F(GroupTest, WhenTheLastWaiterLeavesTheLoadRunsToCompletion) {
  asio::cancellation_signal cancel;
  bool load_finished = false;
  auto loader = [&]() -> asio::awaitable<std::string> {
    co_await gate.wait();
    load_finished = true;
    co_return "page";
  };
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto r = co_await group.run("room", loader);
        out.results.push_back(r);
      },
      asio::bind_cancellation_slot(cancel.slot(), asio::detached));
  ctx.poll();
  cancel.emit(asio::cancellation_type::terminal);
  ctx.poll();
  ASSERT_EQ(out.results.size(), 1u);
  EXPECT_EQ(out.results[0].status, Status::kCancelled);
  EXPECT_FALSE(load_finished);
  EXPECT_EQ(group.in_flight(), 1u) << "nobody waits, but the load goes on";
  gate.open();
  ctx.run();
  EXPECT_TRUE(load_finished);
  EXPECT_EQ(group.in_flight(), 0u);
}

TEST_F(GroupTest, WaiterDeadlineLeavesWithoutStoppingTheLoad) {
  Outcomes impatient;
  spawn(ctx, call(group, "room", gate, loads, "page", impatient, 5ms));
  spawn(ctx, call(group, "room", gate, loads, "page", out));
  // Run until the impatient caller's deadline fires; the gate stays shut.
  while (impatient.completed == 0) ctx.run_one();
  EXPECT_EQ(impatient.results[0].status, Status::kTimedOut);
  EXPECT_EQ(out.completed, 0);
  EXPECT_EQ(group.in_flight(), 1u);
  gate.open();
  ctx.run();
  ASSERT_EQ(out.completed, 1);
  EXPECT_EQ(*out.results[0].value, "page");
  EXPECT_EQ(loads, 1);
}

TEST_F(GroupTest, DeadlineThatIsNotReachedChangesNothing) {
  spawn(ctx, call(group, "room", gate, loads, "page", out, 1h));
  ctx.poll();
  gate.open();
  ctx.run();  // returns at once: the finished waiter's timer was cancelled
  ASSERT_EQ(out.completed, 1);
  EXPECT_TRUE(out.results[0].ok());
}

TEST_F(GroupTest, GroupMayBeDestroyedWhileALoadRuns) {
  auto group_ptr = std::make_unique<StringGroup>();
  spawn(ctx, call(*group_ptr, "room", gate, loads, "page", out));
  ctx.poll();
  group_ptr.reset();
  gate.open();
  ctx.run();
  ASSERT_EQ(out.completed, 1);
  EXPECT_EQ(*out.results[0].value, "page");
}

TEST(GroupBlockingTest, ThreadsShareOneCall) {
  StringGroup group;
  constexpr int kThreads = 8;
  std::atomic<int> calls{0};
  std::vector<Result<std::string>> results(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      results[i] = group.run_blocking("room", [&] {
        ++calls;
        // Hold the load open until every other thread has joined it.
        while (group.stats().callers_coalesced < kThreads - 1) std::this_thread::yield();
        return std::string("page");
      });
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(calls.load(), 1);
  for (auto& r : results) {
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r.value, "page");
    EXPECT_TRUE(r.shared);
  }
}

TEST(GroupBlockingTest, ExceptionReachesTheCaller) {
  StringGroup group;
  auto r = group.run_blocking("room", []() -> std::string { throw std::runtime_error("boom"); });
  EXPECT_EQ(r.status, Status::kLoadFailed);
  EXPECT_EQ(group.in_flight(), 0u);
  auto again = group.run_blocking("room", [] { return std::string("ok"); });
  EXPECT_TRUE(again.ok());
}

TEST(GroupBlockingTest, BlockingCallerJoinsACoroutinesLoad) {
  asio::io_context ctx;
  StringGroup group;
  Gate gate{ctx.get_executor()};
  int loads = 0;
  Outcomes out;
  spawn(ctx, call(group, "room", gate, loads, "page", out));
  ctx.poll();
  std::optional<Result<std::string>> blocking;
  std::thread plain([&] { blocking = group.run_blocking("room", [] { return std::string("unused"); }); });
  while (group.stats().callers_coalesced < 1) std::this_thread::yield();
  gate.open();
  ctx.run();
  plain.join();
  ASSERT_TRUE(blocking && blocking->ok());
  EXPECT_EQ(*blocking->value, "page");
  EXPECT_EQ(blocking->value.get(), out.results[0].value.get());
}

TEST(GroupBlockingTest, ExecutorShutdownAbandonsTheLoadInsteadOfHangingWaiters) {
  StringGroup group;
  std::optional<Result<std::string>> blocking;
  std::thread plain;
  {
    asio::io_context ctx;
    Gate gate{ctx.get_executor()};
    int loads = 0;
    Outcomes out;
    spawn(ctx, call(group, "room", gate, loads, "page", out));
    ctx.poll();
    plain = std::thread([&] { blocking = group.run_blocking("room", [] { return std::string("x"); }); });
    while (group.stats().callers_coalesced < 1) std::this_thread::yield();
    // ctx is destroyed with the load suspended on a gate that never opens.
  }
  plain.join();
  ASSERT_TRUE(blocking);
  EXPECT_EQ(blocking->status, Status::kLoadFailed);
  EXPECT_EQ(group.in_flight(), 0u) << "the key is free for the next caller";
}

TEST(GroupThreadedTest, CoroutinesOnManyThreadsShareOneLoad) {
  asio::thread_pool pool(4);
  StringGroup group;
  std::atomic<int> loads{0};
  std::atomic<int> done{0};
  std::atomic<bool> release{false};
  constexpr int kCallers = 200;
  std::vector<std::shared_ptr<const std::string>> values(kCallers);
  auto loader = [&]() -> asio::awaitable<std::string> {
    ++loads;
    asio::steady_timer t(co_await asio::this_coro::executor);
    while (!release.load()) {
      t.expires_after(100us);
      co_await t.async_wait(asio::use_awaitable);
    }
    co_return std::string("page");
  };
  for (int i = 0; i < kCallers; ++i) {
    asio::co_spawn(
        pool,
        [&, i]() -> asio::awaitable<void> {
          auto r = co_await group.run("room", loader);
          values[i] = r.value;
          ++done;
        },
        asio::detached);
  }
  while (group.stats().callers_coalesced < kCallers - 1) std::this_thread::yield();
  release = true;
  pool.join();
  EXPECT_EQ(done.load(), kCallers);
  EXPECT_EQ(loads.load(), 1);
  for (auto& v : values) EXPECT_EQ(v.get(), values[0].get());
}

// Regression: a leader whose deadline fired on another thread before its
// initiation had started the load was resumed (and its frame freed) while
// the initiation still read that frame.
TEST(GroupThreadedTest, LeaderTimingOutAtOnceNeverOutrunsItsOwnInitiation) {
  asio::thread_pool pool(4);
  StringGroup group;
  constexpr int kLeaders = 2000;
  std::atomic<int> loads{0}, completed{0};
  for (int i = 0; i < kLeaders; ++i) {
    asio::co_spawn(
        pool,
        [&, i]() -> asio::awaitable<void> {
          auto loader = [&]() -> asio::awaitable<std::string> {
            ++loads;
            co_return std::string("page");
          };
          auto r = co_await group.run("room-" + std::to_string(i), loader, std::chrono::nanoseconds(0));
          EXPECT_TRUE(r.status == Status::kOk || r.status == Status::kTimedOut);
          ++completed;
        },
        asio::detached);
  }
  pool.join();
  EXPECT_EQ(completed.load(), kLeaders);
  EXPECT_EQ(loads.load(), kLeaders) << "every leader started its load although it left at once";
  EXPECT_EQ(group.in_flight(), 0u);
}

}  // namespace
}  // namespace micq::coalesce
