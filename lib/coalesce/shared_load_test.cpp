#include "micq/coalesce/shared_load.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/system/result.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "micq/coalesce/testing/gate.h"

namespace micq::coalesce {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::Gate;

class SharedLoadTest : public ::testing::Test {
 protected:
  void await_into(const std::shared_ptr<SharedLoad<std::string>>& load,
                  std::optional<Result<std::string>>& out,
                  SharedLoad<std::string>::WaitTimeout timeout = std::nullopt) {
    asio::co_spawn(
        ctx, [load, &out, timeout]() -> asio::awaitable<void> { out = co_await load->wait(timeout); },
        asio::detached);
  }
  void drain() {
    ctx.restart();
    ctx.run();
  }
  asio::io_context ctx;
};

TEST_F(SharedLoadTest, EveryWaiterGetsTheOneValue) {
  Gate gate(ctx.get_executor());
  int runs = 0;
  auto load = SharedLoad<std::string>::create(ctx.get_executor());
  std::optional<Result<std::string>> early[5];
  for (auto& out : early) await_into(load, out);  // waiting before the start
  load->start([&]() -> asio::awaitable<std::string> {
    ++runs;
    co_await gate.wait();
    co_return "records";
  });
  ctx.poll();
  for (auto& out : early) EXPECT_FALSE(out) << "nobody resumes before the load ends";
  gate.open();
  drain();
  for (auto& out : early) {
    ASSERT_TRUE(out && out->ok());
    EXPECT_EQ(*out->value, "records");
    EXPECT_EQ(out->value.get(), early[0]->value.get()) << "shared, not copied";
  }
  std::optional<Result<std::string>> late;
  await_into(load, late);
  drain();
  ASSERT_TRUE(late && late->ok()) << "a waiter after the end gets the outcome at once";
  EXPECT_EQ(runs, 1);
}

TEST_F(SharedLoadTest, AThrowReachesEveryWaiter) {
  auto load = SharedLoad<std::string>::create(ctx.get_executor());
  std::optional<Result<std::string>> a, b;
  await_into(load, a);
  await_into(load, b);
  load->start([]() -> asio::awaitable<std::string> {
    throw std::runtime_error("aggregator down");
    co_return "";
  });
  drain();
  for (auto* out : {&a, &b}) {
    ASSERT_TRUE(*out);
    EXPECT_EQ((*out)->status, Status::kLoadFailed);
    EXPECT_TRUE((*out)->error);
  }
}

TEST_F(SharedLoadTest, AReturnedErrorReachesEveryWaiterWithoutAThrow) {
  auto load = SharedLoad<std::string>::create(ctx.get_executor());
  std::optional<Result<std::string>> a, b;
  await_into(load, a);
  await_into(load, b);
  load->start([]() -> asio::awaitable<boost::system::result<std::string, std::string>> {
    co_return boost::system::result<std::string, std::string>(boost::system::in_place_error,
                                                              "aggregator down");
  });
  drain();
  for (auto* out : {&a, &b}) {
    ASSERT_TRUE(*out);
    EXPECT_EQ((*out)->status, Status::kLoadFailed);
    EXPECT_FALSE((*out)->error);
    ASSERT_NE((*out)->error_as<std::string>(), nullptr);
    EXPECT_EQ(*(*out)->error_as<std::string>(), "aggregator down");
  }
  EXPECT_EQ(a->error_value, b->error_value) << "shared, not copied";
}

TEST_F(SharedLoadTest, AWaiterThatTimesOutLeavesTheLoadToTheOthers) {
  Gate gate(ctx.get_executor());
  auto load = SharedLoad<std::string>::create(ctx.get_executor());
  load->start([&]() -> asio::awaitable<std::string> {
    co_await gate.wait();
    co_return "late";
  });
  std::optional<Result<std::string>> impatient, patient;
  await_into(load, impatient, 1ms);
  await_into(load, patient);
  ctx.restart();
  while (!impatient && ctx.run_one() > 0) {
  }
  ASSERT_TRUE(impatient);
  EXPECT_EQ(impatient->status, Status::kTimedOut);
  EXPECT_FALSE(patient);
  gate.open();
  drain();
  ASSERT_TRUE(patient && patient->ok());
  EXPECT_EQ(*patient->value, "late");
}

TEST_F(SharedLoadTest, AValueSetFromOutsideReachesEveryWaiterAndLaterArrivals) {
  auto notice = SharedLoad<std::string>::create(ctx.get_executor());
  std::optional<Result<std::string>> waiting[3];
  for (auto& out : waiting) await_into(notice, out);
  ctx.poll();
  for (auto& out : waiting) EXPECT_FALSE(out) << "nothing resumes before the value is set";
  notice->set("records 7");
  drain();
  for (auto& out : waiting) {
    ASSERT_TRUE(out && out->ok());
    EXPECT_EQ(*out->value, "records 7");
  }
  std::optional<Result<std::string>> late;
  await_into(notice, late);
  drain();
  ASSERT_TRUE(late && late->ok());
  EXPECT_EQ(*late->value, "records 7");
}

TEST_F(SharedLoadTest, AWaiterForAValueNeverSetLeavesAtItsDeadline) {
  auto notice = SharedLoad<std::string>::create(ctx.get_executor());
  std::optional<Result<std::string>> out;
  await_into(notice, out, 5ms);
  drain();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, Status::kTimedOut);
  notice->set("too late for it");  // and nobody is left to resume
  drain();
}

TEST_F(SharedLoadTest, AnExecutorShutDownMidLoadFailsTheWaitersInsteadOfHanging) {
  std::optional<Result<std::string>> out;
  {
    asio::io_context doomed;
    Gate gate(doomed.get_executor());
    auto load = SharedLoad<std::string>::create(doomed.get_executor());
    load->start([&]() -> asio::awaitable<std::string> {
      co_await gate.wait();
      co_return "never";
    });
    doomed.poll();
    await_into(load, out);
    ctx.poll();
  }  // destroys the suspended load
  drain();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, Status::kLoadFailed);
}

}  // namespace
}  // namespace micq::coalesce
