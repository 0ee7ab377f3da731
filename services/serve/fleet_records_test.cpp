// FleetRecords: two "instances" (two FleetRecords, each with its own Redis
// connection and notification channels) on one real redis-server, over a
// fake aggregator whose batches the test can hold. The rules of the
// header: a record fetched by one is taken by the other; two fetching the
// same users at once ask the aggregator once, the second woken by the
// first's message (not by its deadline); a copy too old for the caller is
// not taken; a batch straddling a privilege event shares nothing; Redis
// failing leaves the aggregator.
#include "fleet_records.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "micq/coalesce/testing/gate.h"
#include "micq/redis/client.h"
#include "micq/redis/testing/redis_server.h"

namespace micq::serve {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using coalesce::testing::Gate;
using Records = ApiResult<std::vector<PrivilegeRecord>>;

// The aggregator: counts its calls; while `hold` is set a call waits on it.
class FakeAggregator final : public PrivilegeSource {
 public:
  Gate* hold = nullptr;
  int calls = 0;

  asio::awaitable<ApiResult<std::string>> batch_body(std::vector<std::string>) override {
    co_return ApiError::unavailable("aggregator_unavailable", "not used");
  }
  asio::awaitable<Records> records(std::vector<std::string> uids, RecordsScope) override {
    ++calls;
    if (hold) co_await hold->wait();
    std::vector<PrivilegeRecord> out;
    for (const auto& uid : uids) {
      PrivilegeRecord record;
      record.json = R"({"vip":{"uid":")" + uid + R"("}})";
      record.degraded = std::make_shared<const std::vector<std::string>>(std::vector<std::string>{"medal"});
      out.push_back(std::move(record));
    }
    co_return out;
  }
};

// One serve instance's view: its connection, channels and fleet records.
struct Instance {
  Instance(asio::io_context& ctx, redis::Endpoint redis_at, std::chrono::milliseconds timeout)
      : redis(ctx.get_executor(), redis_at),
        rooms(redis, timeout),
        channels(ctx.get_executor(), {redis_at}, redis::Subscriber::Mode::kNode, redis, timeout),
        records(aggregator, rooms, channels, std::chrono::milliseconds(10'000)) {}
  FakeAggregator aggregator;
  redis::RedisClient redis;
  RoomStore rooms;
  RoomChannels channels;
  FleetRecords records;
};

class FleetRecordsTest : public ::testing::Test {
 protected:
  redis::Endpoint local() const { return {"127.0.0.1", server.port()}; }

  // Starts `instance`'s records() of `uids` in room r1; the outcome lands in `out`.
  void start(Instance& instance, std::vector<std::string> uids, std::optional<Records>& out,
             std::chrono::nanoseconds accept_age = 5s) {
    asio::co_spawn(
        ctx,
        [&instance, &out, uids = std::move(uids), accept_age]() mutable -> asio::awaitable<void> {
          auto call = instance.records.records(std::move(uids), RecordsScope{"r1", accept_age});
          out = co_await std::move(call);
        },
        asio::detached);
  }
  template <class Done>
  bool run_until(Done done, std::chrono::seconds limit = 10s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    ctx.restart();
    while (!done() && std::chrono::steady_clock::now() < deadline) ctx.run_one_for(100ms);
    return done();
  }
  Records fetch(Instance& instance, std::vector<std::string> uids, std::chrono::nanoseconds accept_age = 5s) {
    std::optional<Records> out;
    start(instance, std::move(uids), out, accept_age);
    EXPECT_TRUE(run_until([&] { return out.has_value(); }));
    return out ? std::move(*out) : Records(ApiError::unavailable("test", "no answer"));
  }

  redis::testing::RedisServer server;
  asio::io_context ctx;
};

TEST_F(FleetRecordsTest, ASecondInstanceTakesTheRecordsTheFirstShared) {
  Instance a(ctx, local(), 2s), b(ctx, local(), 2s);
  Records first = fetch(a, {"u1", "u2"});
  ASSERT_TRUE(first && first->size() == 2u);
  EXPECT_EQ(a.aggregator.calls, 1);
  Records second = fetch(b, {"u2", "u1"});
  ASSERT_TRUE(second && second->size() == 2u);
  EXPECT_EQ(b.aggregator.calls, 0) << "taken from the fleet";
  EXPECT_EQ((*second)[0].json, (*first)[1].json);
  ASSERT_TRUE((*second)[0].degraded);
  EXPECT_EQ(*(*second)[0].degraded, std::vector<std::string>{"medal"});
  EXPECT_EQ(b.records.stats().users_shared, 2u);
}

TEST_F(FleetRecordsTest, TwoFetchingTheSameUsersAskTheAggregatorOnceTheSecondWokenByAMessage) {
  // A deadline far beyond the test's bound: only the message can end the wait in time.
  Instance a(ctx, local(), 5s), b(ctx, local(), 5s);
  Gate gate(ctx.get_executor());
  a.aggregator.hold = &gate;
  std::optional<Records> from_a, from_b;
  start(a, {"u1", "u2"}, from_a);
  ASSERT_TRUE(run_until([&] { return a.aggregator.calls == 1; })) << "a took the lock and asked";
  start(b, {"u1", "u2"}, from_b);
  ASSERT_TRUE(run_until([&] { return b.records.stats().lock_waits == 1; }));
  auto opened = std::chrono::steady_clock::now();
  gate.open();
  ASSERT_TRUE(run_until([&] { return from_a && from_b; }));
  EXPECT_LT(std::chrono::steady_clock::now() - opened, 2s) << "b waited for its deadline, not the message";
  ASSERT_TRUE(*from_a && *from_b);
  EXPECT_EQ(b.aggregator.calls, 0);
  EXPECT_EQ(b.records.stats().wait_timeouts, 0u);
  EXPECT_EQ((**from_b)[1].json, (**from_a)[1].json);
}

TEST_F(FleetRecordsTest, ACopyOlderThanTheCallerAcceptsIsFetchedAnew) {
  Instance a(ctx, local(), 2s), b(ctx, local(), 2s);
  ASSERT_TRUE(fetch(a, {"u1"}));
  // The shared copy's age counts from its remaining life (PTTL): a copy
  // with 1 s left of a 10 s TTL is 9 s old.
  {
    std::optional<bool> set;
    redis::Command pexpire{"PEXPIRE", shared_record_key("r1", "u1"), "1000"};
    asio::co_spawn(
        ctx,
        [&, pexpire]() -> asio::awaitable<void> {
          auto call = a.redis.command(pexpire, 2s);
          auto reply = co_await std::move(call);
          set = reply && reply->integer == 1;
        },
        asio::detached);
    ASSERT_TRUE(run_until([&] { return set.has_value(); }) && *set);
  }
  Records old_enough = fetch(b, {"u1"}, 9500ms);
  ASSERT_TRUE(old_enough);
  EXPECT_EQ(b.aggregator.calls, 0) << "9 s old, 9.5 s accepted";
  EXPECT_GE((*old_enough)[0].age, 8s);
  Records too_old = fetch(b, {"u1"}, 5s);
  ASSERT_TRUE(too_old);
  EXPECT_EQ(b.aggregator.calls, 1) << "9 s old, 5 s accepted: fetched";
}

TEST_F(FleetRecordsTest, ABatchThatStraddlesAPrivilegeEventSharesNothing) {
  Instance a(ctx, local(), 2s), b(ctx, local(), 2s);
  Gate gate(ctx.get_executor());
  a.aggregator.hold = &gate;
  std::optional<Records> from_a;
  start(a, {"u1", "u2"}, from_a);
  ASSERT_TRUE(run_until([&] { return a.aggregator.calls == 1; })) << "a's batch began";
  // u1's privileges change while a's batch is in flight: what it brings for
  // u1 may be from before.
  const std::vector<Event> events{{EventType::kPrivilege, "u1", 0}};
  std::optional<bool> applied;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto call = a.rooms.apply("r1", events, std::nullopt);
        auto outcome = co_await std::move(call);
        applied = outcome.has_value();
      },
      asio::detached);
  ASSERT_TRUE(run_until([&] { return applied.has_value(); }) && *applied);
  gate.open();
  ASSERT_TRUE(run_until([&] { return from_a.has_value(); }));
  ASSERT_TRUE(*from_a && (*from_a)->size() == 2u) << "the caller still has its records";
  EXPECT_EQ(a.records.stats().batches_unshared, 1u);
  Records from_b = fetch(b, {"u1", "u2"});
  ASSERT_TRUE(from_b);
  EXPECT_EQ(b.aggregator.calls, 1) << "nothing of the straddling batch was shared";
  // b's batch began after the event: it is shared.
  a.aggregator.hold = nullptr;
  ASSERT_TRUE(fetch(a, {"u1", "u2"}));
  EXPECT_EQ(a.aggregator.calls, 1) << "taken from b's copies";
  EXPECT_EQ(b.records.stats().batches_unshared, 0u);
}

TEST_F(FleetRecordsTest, RedisFailingLeavesTheAggregator) {
  redis::Endpoint nowhere = local();
  server.kill();
  Instance a(ctx, nowhere, 500ms);
  Records records = fetch(a, {"u1", "u2"});
  ASSERT_TRUE(records && records->size() == 2u);
  EXPECT_EQ(a.aggregator.calls, 1);
}

}  // namespace
}  // namespace micq::serve
