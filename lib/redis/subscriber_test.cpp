// Subscriber against a real redis-server: messages, a restart, a stalled
// server, unsubscribing. (Cluster redirects and moved slots are tested
// against a real cluster in tests/integration/cluster_test.cpp.)
#include "micq/redis/subscriber.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <string>
#include <vector>

#include "micq/redis/client.h"
#include "micq/redis/testing/redis_server.h"

namespace micq::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using micq::redis::testing::RedisServer;

// What the subscriber reported, in order, and a way to await the next
// report: every callback cancels `arrived` (one thread runs everything).
struct Reports {
  explicit Reports(asio::io_context& ctx) : arrived(ctx, asio::steady_timer::time_point::max()) {}

  SubscriberCallbacks callbacks() {
    return {
        [this](const std::string& channel, const std::string& payload) {
          add("message " + channel + " " + payload);
        },
        [this](const std::string& channel) { add("subscribed " + channel); },
        [this](const std::string& channel) { add("lost " + channel); },
    };
  }
  void add(std::string report) {
    pending.push_back(std::move(report));
    arrived.cancel();
  }
  // The next report, or "timeout" after `limit` (generous: a failing test
  // ends instead of hanging).
  asio::awaitable<std::string> next(std::chrono::milliseconds limit = 10s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (pending.empty()) {
      if (std::chrono::steady_clock::now() >= deadline) co_return "timeout";
      arrived.expires_at(deadline);
      co_await arrived.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    std::string report = std::move(pending.front());
    pending.pop_front();
    co_return report;
  }

  asio::steady_timer arrived;
  std::deque<std::string> pending;
};

Command spublish(const std::string& channel, const std::string& payload) {
  return {"SPUBLISH", channel, payload};
}

// Publishes and returns how many subscribers Redis delivered it to.
asio::awaitable<long long> publish(RedisClient& redis, std::string channel, std::string payload) {
  auto call = redis.command(spublish(channel, payload), 2s);
  auto reply = co_await std::move(call);
  co_return reply && reply->type == Reply::Type::kInteger ? reply->integer : -1;
}

template <class Body>
void run(asio::io_context& ctx, Body body) {
  bool finished = false;
  std::exception_ptr error;
  asio::co_spawn(ctx, std::move(body), [&](std::exception_ptr e) {
    error = std::move(e);
    finished = true;
  });
  while (!finished && ctx.run_one_for(30s)) {
  }
  ASSERT_TRUE(finished) << "test body did not finish";
  if (error) std::rethrow_exception(error);
}

Endpoint local(const RedisServer& server) { return {"127.0.0.1", server.port()}; }

class SubscriberTest : public ::testing::Test {
 protected:
  std::unique_ptr<Subscriber> subscriber(SubscriberOptions options = {}) {
    return std::make_unique<Subscriber>(ctx.get_executor(), std::vector<Endpoint>{local(server)},
                                        Subscriber::Mode::kNode, reports.callbacks(), options);
  }
  // The next report is `expected`.
  asio::awaitable<void> expect(std::string expected) {
    auto next = reports.next();
    EXPECT_EQ(co_await std::move(next), expected);
  }

  RedisServer server;
  asio::io_context ctx;
  Reports reports{ctx};
};

TEST_F(SubscriberTest, DeliversWhatIsPublishedOnceSubscribed) {
  run(ctx, [&, this]() -> asio::awaitable<void> {
    RedisClient redis(ctx.get_executor(), local(server));
    auto subscriber = this->subscriber();
    subscriber->subscribe("micq:{r1}:changed");
    subscriber->subscribe("micq:{r2}:changed");
    std::vector<std::string> confirmed;
    for (int i = 0; i < 2; ++i) {
      auto next = reports.next();
      confirmed.push_back(co_await std::move(next));
    }
    std::sort(confirmed.begin(), confirmed.end());
    EXPECT_EQ(confirmed,
              (std::vector<std::string>{"subscribed micq:{r1}:changed", "subscribed micq:{r2}:changed"}));
    auto sent = publish(redis, "micq:{r1}:changed", "42");
    EXPECT_EQ(co_await std::move(sent), 1);
    auto step1 = expect("message micq:{r1}:changed 42");
    co_await std::move(step1);
    auto other = publish(redis, "micq:{r3}:changed", "7");  // not subscribed
    EXPECT_EQ(co_await std::move(other), 0);
    SubscriberStats stats = subscriber->stats();
    EXPECT_EQ(stats.channels, 2u);
    EXPECT_EQ(stats.subscribed, 2u);
    EXPECT_EQ(stats.messages, 1u);
    EXPECT_EQ(stats.subscriptions_lost, 0u);
  });
}

TEST_F(SubscriberTest, ResubscribesAfterRedisRestarts) {
  run(ctx, [&, this]() -> asio::awaitable<void> {
    auto subscriber = this->subscriber();
    subscriber->subscribe("micq:{r1}:changed");
    auto step2 = expect("subscribed micq:{r1}:changed");
    co_await std::move(step2);
    server.restart();  // same port, a new process
    auto step3 = expect("lost micq:{r1}:changed");
    co_await std::move(step3);
    auto step4 = expect("subscribed micq:{r1}:changed");
    co_await std::move(step4);
    RedisClient redis(ctx.get_executor(), local(server));
    auto sent = publish(redis, "micq:{r1}:changed", "1");
    EXPECT_EQ(co_await std::move(sent), 1);
    auto step5 = expect("message micq:{r1}:changed 1");
    co_await std::move(step5);
    SubscriberStats stats = subscriber->stats();
    EXPECT_EQ(stats.subscribed, 1u);
    EXPECT_EQ(stats.subscriptions_lost, 1u);
    EXPECT_EQ(stats.connection_losses, 1u);
  });
}

// A Redis that stops answering keeps its TCP connections open: only the
// unanswered PING tells the subscription is gone.
TEST_F(SubscriberTest, AStalledRedisIsLostByItsUnansweredPingAndResubscribedWhenItResumes) {
  run(ctx, [&, this]() -> asio::awaitable<void> {
    SubscriberOptions options;
    options.ping_interval = 50ms;
    options.ping_timeout = 200ms;
    auto subscriber = this->subscriber(options);
    subscriber->subscribe("micq:{r1}:changed");
    auto step6 = expect("subscribed micq:{r1}:changed");
    co_await std::move(step6);
    server.pause();
    auto step7 = expect("lost micq:{r1}:changed");
    co_await std::move(step7);
    EXPECT_EQ(subscriber->stats().subscribed, 0u);
    server.resume();
    auto step8 = expect("subscribed micq:{r1}:changed");
    co_await std::move(step8);
  });
}

TEST_F(SubscriberTest, AnUnsubscribedChannelIsNoLongerDelivered) {
  run(ctx, [&, this]() -> asio::awaitable<void> {
    RedisClient redis(ctx.get_executor(), local(server));
    auto subscriber = this->subscriber();
    subscriber->subscribe("micq:{r1}:changed");
    auto step9 = expect("subscribed micq:{r1}:changed");
    co_await std::move(step9);
    subscriber->unsubscribe("micq:{r1}:changed");
    // Commands on one connection are answered in order: once r2 is
    // confirmed, Redis has ended r1.
    subscriber->subscribe("micq:{r2}:changed");
    auto step10 = expect("subscribed micq:{r2}:changed");
    co_await std::move(step10);
    auto sent = publish(redis, "micq:{r1}:changed", "1");
    EXPECT_EQ(co_await std::move(sent), 0);
    auto delivered = publish(redis, "micq:{r2}:changed", "2");
    EXPECT_EQ(co_await std::move(delivered), 1);
    auto step11 = expect("message micq:{r2}:changed 2");
    co_await std::move(step11);
    EXPECT_EQ(subscriber->stats().channels, 1u);
  });
}

// Channels of many slots over one connection, resubscribed together.
TEST_F(SubscriberTest, ManyChannelsAreAllResubscribedAfterALoss) {
  run(ctx, [&, this]() -> asio::awaitable<void> {
    auto subscriber = this->subscriber();
    constexpr int kRooms = 600;
    for (int i = 0; i < kRooms; ++i) subscriber->subscribe("micq:{r" + std::to_string(i) + "}:changed");
    for (int i = 0; i < kRooms; ++i) {
      auto next = reports.next();
      std::string report = co_await std::move(next);
      EXPECT_EQ(report.rfind("subscribed ", 0), 0u) << report;
      if (report == "timeout") co_return;
    }
    server.restart();
    int lost = 0, subscribed = 0;
    while (subscribed < kRooms) {
      auto next = reports.next();
      std::string report = co_await std::move(next);
      EXPECT_NE(report, "timeout");
      if (report == "timeout") co_return;
      (report.rfind("lost ", 0) == 0 ? lost : subscribed) += 1;
    }
    EXPECT_EQ(lost, kRooms);
    EXPECT_EQ(subscriber->stats().subscribed, static_cast<std::size_t>(kRooms));
  });
}

}  // namespace
}  // namespace micq::redis
