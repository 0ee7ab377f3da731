// Admission (and AdmittedBuilder) on an io_context run by the test (and, for the bound under
// contention, on a thread pool with a strand per build), with builds held
// on gates so the test decides when each one ends.
#include "admission.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <optional>
#include <vector>

#include "micq/coalesce/testing/gate.h"
#include "page_builder.h"

namespace micq::serve {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using coalesce::testing::Gate;

// One build as the test sees it: admitted or not, and its gate.
struct Build {
  explicit Build(asio::io_context& ctx) : gate(ctx.get_executor()) {}
  Gate gate;
  std::optional<bool> admitted;  // set once acquire() returned
  bool done = false;
};

void start(asio::io_context& ctx, Admission& admission, Build& build) {
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto acquiring = admission.acquire();
        auto permit = co_await std::move(acquiring);
        build.admitted = permit.has_value();
        if (permit) co_await build.gate.wait();
        build.done = true;
      },
      asio::detached);
}

TEST(AdmissionTest, AtMostTheLimitRunAndAReleasedSlotGoesToTheOldestWaiter) {
  asio::io_context ctx;
  Admission admission({.max_in_flight = 2, .max_queued = 8, .max_wait = 60s});
  std::vector<std::unique_ptr<Build>> builds;
  for (int i = 0; i < 4; ++i) builds.push_back(std::make_unique<Build>(ctx));
  for (auto& build : builds) start(ctx, admission, *build);
  ctx.poll();
  EXPECT_EQ(builds[0]->admitted, true);
  EXPECT_EQ(builds[1]->admitted, true);
  EXPECT_FALSE(builds[2]->admitted) << "waits for a slot";
  EXPECT_FALSE(builds[3]->admitted);
  EXPECT_EQ(admission.stats().in_flight, 2u);
  EXPECT_EQ(admission.stats().queued, 2u);

  builds[1]->gate.open();
  ctx.poll();
  EXPECT_TRUE(builds[1]->done);
  EXPECT_EQ(builds[2]->admitted, true) << "the oldest waiter gets the slot";
  EXPECT_FALSE(builds[3]->admitted);
  EXPECT_EQ(admission.stats().in_flight, 2u);

  for (auto& build : builds) build->gate.open();
  ctx.run();
  for (auto& build : builds) EXPECT_TRUE(build->done && *build->admitted);
  AdmissionStats stats = admission.stats();
  EXPECT_EQ(stats.in_flight, 0u);
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(stats.admitted, 4u);
  EXPECT_EQ(stats.rejected_queue_full + stats.rejected_wait, 0u);
}

TEST(AdmissionTest, AFullQueueRefusesAtOnce) {
  asio::io_context ctx;
  Admission admission({.max_in_flight = 1, .max_queued = 1, .max_wait = 60s});
  Build running(ctx), waiting(ctx), refused(ctx);
  start(ctx, admission, running);
  start(ctx, admission, waiting);
  start(ctx, admission, refused);
  ctx.poll();
  EXPECT_EQ(running.admitted, true);
  EXPECT_FALSE(waiting.admitted);
  EXPECT_EQ(refused.admitted, false) << "no room in the queue: refused without waiting";
  EXPECT_EQ(admission.stats().rejected_queue_full, 1u);
  running.gate.open();
  waiting.gate.open();
  ctx.run();
  EXPECT_EQ(waiting.admitted, true);
}

TEST(AdmissionTest, AWaitThatRunsOutIsRefusedAndLeavesTheQueue) {
  asio::io_context ctx;
  Admission admission({.max_in_flight = 1, .max_queued = 4, .max_wait = 5ms});
  Build running(ctx), waiting(ctx);
  start(ctx, admission, running);
  start(ctx, admission, waiting);
  while (!waiting.admitted && ctx.run_one() > 0) {
  }
  EXPECT_EQ(waiting.admitted, false);
  EXPECT_EQ(admission.stats().rejected_wait, 1u);
  EXPECT_EQ(admission.stats().queued, 0u);
  running.gate.open();
  ctx.run();
  EXPECT_EQ(admission.stats().in_flight, 0u) << "the slot is free again, nobody waiting for it";
}

TEST(AdmissionTest, NoWaitAllowedRefusesWhenEverySlotIsTaken) {
  asio::io_context ctx;
  Admission admission({.max_in_flight = 1, .max_queued = 4, .max_wait = 0ms});
  Build running(ctx), next(ctx);
  start(ctx, admission, running);
  start(ctx, admission, next);
  ctx.poll();
  EXPECT_EQ(next.admitted, false);
  running.gate.open();
  ctx.run();
}

// A builder whose builds wait on a gate.
class GatedBuilder final : public PageBuilder {
 public:
  explicit GatedBuilder(Gate& gate) : gate_(gate) {}
  int builds = 0;
  asio::awaitable<ApiResult<Page>> build(PageKey key, RecordNeed) override {
    ++builds;
    co_await gate_.wait();
    co_return finish_page(key.room_id, 1, BuildOptions{});
  }

 private:
  Gate& gate_;
};

TEST(AdmittedBuilderTest, ABuildNotAdmittedIs429OverloadedAndNeverStarts) {
  asio::io_context ctx;
  Gate gate(ctx.get_executor());
  GatedBuilder inner(gate);
  Admission admission({.max_in_flight = 1, .max_queued = 0, .max_wait = 60s});
  AdmittedBuilder builder(admission, inner);
  std::vector<ApiResult<Page>> pages;
  for (const char* room : {"r1", "r2"}) {
    asio::co_spawn(
        ctx,
        [&, room]() -> asio::awaitable<void> {
          auto building = builder.build(PageKey{room, 0, 10}, RecordNeed::kRefreshOld);
          pages.push_back(co_await std::move(building));
        },
        asio::detached);
  }
  ctx.poll();
  ASSERT_EQ(pages.size(), 1u);
  ASSERT_FALSE(pages[0]);
  EXPECT_EQ(pages[0].error().status, http::Status::too_many_requests);
  EXPECT_EQ(pages[0].error().code, "overloaded");
  EXPECT_EQ(inner.builds, 1) << "the refused build never reached the builder";
  gate.open();
  ctx.run();
  ASSERT_EQ(pages.size(), 2u);
  EXPECT_TRUE(pages[1]);
}

TEST(AdmissionThreadedTest, TheBoundHoldsUnderContentionOnManyThreads) {
  asio::thread_pool pool(4);
  Admission admission({.max_in_flight = 3, .max_queued = 1000, .max_wait = 60s});
  std::atomic<int> running{0}, most{0}, finished{0};
  constexpr int kBuilds = 200;
  for (int i = 0; i < kBuilds; ++i) {
    auto strand = asio::make_strand(pool);
    asio::co_spawn(
        strand,
        [&]() -> asio::awaitable<void> {
          auto acquiring = admission.acquire();
          auto permit = co_await std::move(acquiring);
          EXPECT_TRUE(permit);
          int now = running.fetch_add(1) + 1;
          for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
          }
          asio::steady_timer work(co_await asio::this_coro::executor, 100us);
          co_await work.async_wait(asio::use_awaitable);
          running.fetch_sub(1);
          finished.fetch_add(1);
        },
        asio::detached);
  }
  pool.join();
  EXPECT_EQ(finished.load(), kBuilds);
  EXPECT_LE(most.load(), 3);
  EXPECT_EQ(admission.stats().in_flight, 0u);
  EXPECT_EQ(admission.stats().admitted, static_cast<std::uint64_t>(kBuilds));
}

}  // namespace
}  // namespace micq::serve
