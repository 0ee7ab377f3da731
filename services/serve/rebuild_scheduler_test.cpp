// RebuildScheduler over a fake rebuild on an io_context run by the test.
// The scheduler waits on real steady timers, so intervals are small and
// the tests await events (run the io_context until a condition holds, or
// until it has no work left) instead of sleeping. Timing is checked only
// against bounds the scheduler guarantees whatever the machine's load:
// a rebuild never starts before `interval` after the previous one began.
#include "rebuild_scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "micq/coalesce/testing/gate.h"
#include "micq/sync/mutex.h"

namespace micq::serve {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using coalesce::testing::Gate;
using Clock = std::chrono::steady_clock;

struct Start {
  PageKey key;
  Clock::time_point at;
};

// The rebuild a test hands the scheduler. It records when each rebuild
// began and ended; while `hold` is set a rebuild waits on that gate (single-
// threaded tests only); it "takes" `work` on a timer of its own; it returns
// `page_still_cached`. Thread-safe otherwise.
class FakeRebuilds {
 public:
  Gate* hold = nullptr;
  Clock::duration work{0};
  bool page_still_cached = true;  // what a rebuild returns
  bool in_page_cache = true;      // what still_cached() answers

  RebuildScheduler::Rebuild rebuild() {
    return [this](PageKey key) -> asio::awaitable<bool> {
      auto executor = co_await asio::this_coro::executor;
      begin(key);
      if (hold) co_await hold->wait();
      if (work > Clock::duration::zero()) {
        asio::steady_timer timer(executor, work);
        co_await timer.async_wait(asio::use_awaitable);
      }
      end(key);
      co_return page_still_cached;
    };
  }
  RebuildScheduler::StillCached still_cached() {
    return [this](const PageKey&) { return in_page_cache; };
  }

  std::vector<Start> starts() const {
    sync::MutexLock lock(mu_);
    return starts_;
  }
  std::size_t start_count() const {
    sync::MutexLock lock(mu_);
    return starts_.size();
  }
  std::size_t finished() const {
    sync::MutexLock lock(mu_);
    return finished_;
  }
  std::vector<Clock::time_point> ends() const {
    sync::MutexLock lock(mu_);
    return ends_;
  }
  // The most rebuilds of one page that ever ran at once.
  int most_at_once() const {
    sync::MutexLock lock(mu_);
    return most_at_once_;
  }
  // Waits (on the calling thread, not an io_context's) until at least `n`
  // rebuilds have begun; false on timing out.
  bool wait_for_starts(std::size_t n, Clock::duration timeout) {
    sync::MutexLock lock(mu_);
    const Clock::time_point deadline = Clock::now() + timeout;
    while (starts_.size() < n) {
      if (!started_.wait_until(mu_, deadline)) return starts_.size() >= n;
    }
    return true;
  }

 private:
  using Id = std::tuple<std::string, int, int>;
  static Id id_of(const PageKey& key) { return {key.room_id, key.page, key.size}; }

  void begin(const PageKey& key) {
    sync::MutexLock lock(mu_);
    starts_.push_back(Start{key, Clock::now()});
    most_at_once_ = std::max(most_at_once_, ++running_[id_of(key)]);
    started_.notify_all();
  }
  void end(const PageKey& key) {
    sync::MutexLock lock(mu_);
    --running_[id_of(key)];
    ends_.push_back(Clock::now());
    ++finished_;
  }

  mutable sync::Mutex mu_;
  sync::CondVar started_;
  std::vector<Start> starts_ MICQ_GUARDED_BY(mu_);
  std::vector<Clock::time_point> ends_ MICQ_GUARDED_BY(mu_);
  std::map<Id, int> running_ MICQ_GUARDED_BY(mu_);
  int most_at_once_ MICQ_GUARDED_BY(mu_) = 0;
  std::size_t finished_ MICQ_GUARDED_BY(mu_) = 0;
};

std::vector<std::string> rooms_of(const std::vector<Start>& starts) {
  std::vector<std::string> out;
  for (const Start& start : starts) out.push_back(start.key.room_id);
  return out;
}

class RebuildSchedulerTest : public ::testing::Test {
 protected:
  ~RebuildSchedulerTest() override {
    if (gate_) gate_->open();
    drain();
  }

  RebuildScheduler& scheduler(std::chrono::milliseconds interval, std::size_t max_pages = 64) {
    if (!scheduler_) {
      scheduler_.emplace(ctx.get_executor(), interval, max_pages, fake.rebuild(), fake.still_cached(),
                         [this](const std::string& room, bool tracked) {
                           sync::MutexLock lock(watch_mu);
                           watched.push_back((tracked ? "+" : "-") + room);
                         });
    }
    return *scheduler_;
  }
  sync::Mutex watch_mu;
  std::vector<std::string> watched MICQ_GUARDED_BY(watch_mu);  // "+room" tracked, "-room" no longer

  // Holds every rebuild until the returned gate is opened.
  Gate& hold_rebuilds() {
    gate_.emplace(ctx.get_executor());
    fake.hold = &*gate_;
    return *gate_;
  }

  // Runs the io_context until `done` holds; false if it never does (the
  // io_context ran out of work, or 10 s passed).
  bool run_until(const std::function<bool()>& done) {
    auto deadline = Clock::now() + 10s;
    ctx.restart();
    while (!done()) {
      if (ctx.stopped() || Clock::now() > deadline) return done();
      ctx.run_one_for(10ms);
    }
    return true;
  }

  // Runs the io_context until it has no work left: every rebuild that any
  // event so far asked for has run, including those waiting on a timer.
  void drain() {
    ctx.restart();
    ctx.run();
  }

  // Whether anything at all is ready to run, without waiting for timers.
  std::size_t poll() {
    ctx.restart();
    return ctx.poll();
  }

  asio::io_context ctx;
  FakeRebuilds fake;
  std::optional<Gate> gate_;
  std::optional<RebuildScheduler> scheduler_;
};

const PageKey kR1P0{"r1", 0, 10};

TEST_F(RebuildSchedulerTest, EventForARoomWithNoCachedPageRebuildsNothing) {
  scheduler(20ms).page_cached(kR1P0);
  scheduler(20ms).room_changed("r2");
  EXPECT_EQ(poll(), 0u) << "nothing was scheduled";
  drain();
  EXPECT_EQ(fake.start_count(), 0u);
  EXPECT_EQ(scheduler(20ms).stats().rebuilds_started, 0u);
}

TEST_F(RebuildSchedulerTest, OneEventRebuildsThePageOnce) {
  scheduler(20ms).page_cached(kR1P0);
  scheduler(20ms).room_changed("r1");
  drain();
  std::vector<Start> starts = fake.starts();
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].key, kR1P0);
  EXPECT_EQ(scheduler(20ms).stats().rebuilds_started, 1u);
}

TEST_F(RebuildSchedulerTest, EventRebuildsEveryCachedPageOfItsRoomAndNoOther) {
  RebuildScheduler& s = scheduler(20ms);
  s.page_cached(kR1P0);
  s.page_cached(PageKey{"r1", 1, 10});
  s.page_cached(PageKey{"r1", 0, 20});
  s.page_cached(PageKey{"r2", 0, 10});
  s.room_changed("r1");
  drain();
  std::vector<Start> starts = fake.starts();
  EXPECT_EQ(rooms_of(starts), (std::vector<std::string>{"r1", "r1", "r1"}));
  EXPECT_EQ(s.stats().pages_tracked, 4u);
}

// One event heard twice (its answer here, its notification from Redis)
// rebuilds once; an older version changes nothing; no version, always.
TEST_F(RebuildSchedulerTest, AVersionAlreadySeenRebuildsNothing) {
  RebuildScheduler& s = scheduler(1ms);
  s.page_cached(kR1P0, 3);
  EXPECT_TRUE(s.is_new_version("r1", 4));
  EXPECT_TRUE(s.room_changed("r1", 4));
  drain();
  EXPECT_FALSE(s.is_new_version("r1", 4));
  EXPECT_FALSE(s.room_changed("r1", 4)) << "the same version again";
  EXPECT_FALSE(s.room_changed("r1", 2)) << "an older one";
  drain();
  EXPECT_EQ(fake.start_count(), 1u);
  EXPECT_TRUE(s.room_changed("r1", std::nullopt)) << "not known: rebuilt to be sure";
  drain();
  EXPECT_EQ(fake.start_count(), 2u);
  EXPECT_TRUE(s.is_new_version("r9", 1)) << "a room not tracked";
}

// The room's version read when its notifications began: pages built from
// an older one missed an event and are rebuilt, the others not.
TEST_F(RebuildSchedulerTest, CatchingUpRebuildsOnlyPagesBuiltFromAnOlderVersion) {
  RebuildScheduler& s = scheduler(1ms);
  s.page_cached(kR1P0, 5);
  s.page_cached(PageKey{"r1", 1, 10}, 7);
  s.room_caught_up("r1", 7);
  drain();
  std::vector<Start> starts = fake.starts();
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].key, kR1P0);
  s.room_caught_up("r1", 5);
  drain();
  EXPECT_EQ(fake.start_count(), 1u) << "nothing is older than 5";
}

// The version read when notifications began may be one this instance has
// heard already (its own event's answer came first): that event's rebuild
// is coming, so catching up adds none, even before it has stored its page.
TEST_F(RebuildSchedulerTest, CatchingUpToAVersionAlreadyHeardAddsNoRebuild) {
  RebuildScheduler& s = scheduler(1ms);
  s.page_cached(kR1P0, 1);
  EXPECT_TRUE(s.room_changed("r1", 2));
  drain();
  ASSERT_EQ(fake.start_count(), 1u);
  s.room_caught_up("r1", 2);  // the fake's rebuild stored no page: the page still says 1
  drain();
  EXPECT_EQ(fake.start_count(), 1u);
  s.room_caught_up("r1", 3);
  drain();
  EXPECT_EQ(fake.start_count(), 2u) << "a version not heard of: an event was missed";
  EXPECT_TRUE(s.is_new_version("r1", 3)) << "its notifications, arriving late, are still heard";
}

// A page read before an event and stored after the event marked the room's
// pages: the event's rebuild did not include it, so storing it starts one.
TEST_F(RebuildSchedulerTest, APageStoredFromAVersionOlderThanOneHeardIsRebuilt) {
  RebuildScheduler& s = scheduler(1ms);
  s.page_cached(kR1P0, 3);
  EXPECT_TRUE(s.room_changed("r1", 5));
  drain();
  ASSERT_EQ(fake.start_count(), 1u);
  const PageKey late{"r1", 1, 10};
  s.page_cached(late, 4);
  drain();
  std::vector<Start> starts = fake.starts();
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[1].key, late);
  s.page_cached(PageKey{"r1", 2, 10}, 5);
  s.page_cached(PageKey{"r1", 3, 10});  // version not known
  drain();
  EXPECT_EQ(fake.start_count(), 2u) << "a page as new as the room, or of no known version";
}

TEST_F(RebuildSchedulerTest, TheRoomsWatchHearsARoomTrackedAndForgotten) {
  RebuildScheduler& s = scheduler(1ms, 4);
  fake.in_page_cache = false;  // every page idle and evicted: forgotten when the bound is reached
  s.page_cached(kR1P0);
  s.page_cached(PageKey{"r1", 1, 10});  // same room: no second "+r1"
  for (int i = 2; i <= 4; ++i) s.page_cached(PageKey{"r" + std::to_string(i), 0, 10});
  sync::MutexLock lock(watch_mu);
  ASSERT_GE(watched.size(), 5u);
  EXPECT_EQ(std::vector<std::string>(watched.begin(), watched.begin() + 4),
            (std::vector<std::string>{"+r1", "+r2", "+r3", "+r4"}));
  EXPECT_NE(std::find(watched.begin(), watched.end(), "-r1"), watched.end())
      << "the bound forgot r1's pages, and the room with them";
}

TEST_F(RebuildSchedulerTest, BurstOfEventsBringsOneRebuildThenOneMoreAfterTheInterval) {
  constexpr auto kInterval = 50ms;
  RebuildScheduler& s = scheduler(kInterval);
  s.page_cached(kR1P0);
  Clock::time_point before_first = Clock::now();
  for (int i = 0; i < 10; ++i) s.room_changed("r1");  // before the first rebuild begins
  drain();
  ASSERT_EQ(fake.start_count(), 1u) << "events before a rebuild begins are all in it";
  for (int i = 0; i < 10; ++i) s.room_changed("r1");  // after it
  drain();
  std::vector<Start> starts = fake.starts();
  ASSERT_EQ(starts.size(), 2u) << "20 events within one interval: the first rebuild and one more";
  // The scheduler stamped the first rebuild after `before_first`; the
  // second may not begin before that stamp plus the interval.
  EXPECT_GE(starts[1].at - before_first, kInterval);
  RebuildStats stats = s.stats();
  EXPECT_EQ(stats.rebuilds_started, 2u);
  EXPECT_EQ(stats.events_coalesced, 18u);
}

TEST_F(RebuildSchedulerTest, EventsDuringARebuildBringExactlyOneMoreAfterIt) {
  constexpr auto kInterval = 30ms;
  RebuildScheduler& s = scheduler(kInterval);
  Gate& gate = hold_rebuilds();
  s.page_cached(kR1P0);
  Clock::time_point before_first = Clock::now();
  s.room_changed("r1");
  ASSERT_TRUE(run_until([&] { return fake.start_count() == 1; }));
  for (int i = 0; i < 5; ++i) {
    s.room_changed("r1");
    poll();
  }
  EXPECT_EQ(fake.start_count(), 1u) << "one rebuild of a page at a time";
  gate.open();
  drain();
  std::vector<Start> starts = fake.starts();
  ASSERT_EQ(starts.size(), 2u);
  std::vector<Clock::time_point> ends = fake.ends();
  ASSERT_EQ(ends.size(), 2u);
  EXPECT_GE(starts[1].at, ends[0]) << "the second begins after the first ended";
  EXPECT_GE(starts[1].at - before_first, kInterval);
  EXPECT_EQ(fake.most_at_once(), 1);
}

TEST_F(RebuildSchedulerTest, RebuildThatFindsThePageGoneForgetsIt) {
  fake.page_still_cached = false;
  RebuildScheduler& s = scheduler(20ms);
  s.page_cached(kR1P0);
  EXPECT_EQ(s.stats().pages_tracked, 1u);
  s.room_changed("r1");
  drain();
  EXPECT_EQ(fake.start_count(), 1u);
  EXPECT_EQ(s.stats().pages_tracked, 0u);
  s.room_changed("r1");
  EXPECT_EQ(poll(), 0u) << "a forgotten page is not rebuilt";
  drain();
  EXPECT_EQ(fake.start_count(), 1u);
}

TEST_F(RebuildSchedulerTest, ZeroIntervalRebuildsOncePerEventWhenEachFollowsTheLastRebuild) {
  RebuildScheduler& s = scheduler(0ms);
  s.page_cached(kR1P0);
  for (std::size_t i = 1; i <= 5; ++i) {
    s.room_changed("r1");
    drain();
    EXPECT_EQ(fake.start_count(), i);
  }
  EXPECT_EQ(s.stats().events_coalesced, 0u);
}

TEST_F(RebuildSchedulerTest, TrackedPagesStayWithinTheBoundWhenNoneIsStillCached) {
  fake.in_page_cache = false;
  RebuildScheduler& s = scheduler(20ms, 8);
  for (int i = 0; i < 100; ++i) {
    s.page_cached(PageKey{"r" + std::to_string(i), 0, 10});
    EXPECT_LE(s.stats().pages_tracked, 8u) << "after page " << i;
  }
}

TEST_F(RebuildSchedulerTest, FullSchedulerForgetsTheLeastRecentlyLoadedPages) {
  RebuildScheduler& s = scheduler(20ms, 8);
  for (int i = 0; i < 100; ++i) {
    s.page_cached(PageKey{"r" + std::to_string(i), 0, 10});
    EXPECT_LE(s.stats().pages_tracked, 8u) << "after page " << i;
  }
  EXPECT_GT(s.stats().pages_tracked, 0u);
  s.room_changed("r0");
  s.room_changed("r99");
  drain();
  EXPECT_EQ(rooms_of(fake.starts()), (std::vector<std::string>{"r99"}))
      << "the first page loaded was forgotten, the last one kept";
}

TEST_F(RebuildSchedulerTest, PageBeingRebuiltIsNotForgottenWhenFull) {
  RebuildScheduler& s = scheduler(20ms, 8);
  Gate& gate = hold_rebuilds();
  s.page_cached(kR1P0);
  s.room_changed("r1");
  ASSERT_TRUE(run_until([&] { return fake.start_count() == 1; }));
  for (int i = 0; i < 20; ++i) s.page_cached(PageKey{"x" + std::to_string(i), 0, 10});
  s.room_changed("r1");  // during the rebuild: one more after it
  gate.open();
  drain();
  EXPECT_EQ(rooms_of(fake.starts()), (std::vector<std::string>{"r1", "r1"}));
  EXPECT_LE(s.stats().pages_tracked, 8u);
}

// Events from two threads while two threads run the io_context: a page's
// rebuilds never overlap, never come more often than the interval allows,
// and the last event of each room is followed by a rebuild of its pages.
TEST(RebuildSchedulerThreads, EventsFromManyThreadsKeepEachPagesRebuildsApartAndFresh) {
  constexpr auto kInterval = 10ms;
  constexpr int kRounds = 30;
  asio::io_context ctx;
  auto work = asio::make_work_guard(ctx);
  FakeRebuilds fake;
  fake.work = 1ms;
  RebuildScheduler scheduler(ctx.get_executor(), kInterval, 64, fake.rebuild(), fake.still_cached());
  const std::vector<PageKey> pages = {{"r0", 0, 10}, {"r0", 1, 10}, {"r1", 0, 10}, {"r1", 1, 10}};
  for (const PageKey& page : pages) scheduler.page_cached(page);
  std::vector<std::thread> runners;
  for (int t = 0; t < 2; ++t) runners.emplace_back([&ctx] { ctx.run(); });

  Clock::time_point first_event = Clock::now();
  scheduler.room_changed("r0");
  scheduler.room_changed("r1");
  std::mutex mu;
  std::map<std::string, Clock::time_point> last_event;  // guarded by mu; before the call
  std::atomic<bool> stalled{false};
  std::vector<std::thread> senders;
  for (int t = 0; t < 2; ++t) {
    senders.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        // Each event waits for progress, so that events arrive while
        // rebuilds wait, run and end, not all at once.
        if (!fake.wait_for_starts(static_cast<std::size_t>(r) + 1, 10s)) {
          stalled = true;
          return;
        }
        std::string room = (r + t) % 2 ? "r1" : "r0";
        {
          std::lock_guard lock(mu);
          last_event[room] = Clock::now();
        }
        scheduler.room_changed(room);
      }
    });
  }
  for (auto& sender : senders) sender.join();
  work.reset();
  for (auto& runner : runners) runner.join();
  ASSERT_FALSE(stalled.load()) << "rebuilds stopped coming";

  std::vector<Start> starts = fake.starts();
  EXPECT_EQ(scheduler.stats().rebuilds_started, starts.size());
  EXPECT_EQ(fake.most_at_once(), 1) << "a page's rebuilds run one at a time";
  for (const PageKey& page : pages) {
    std::vector<Clock::time_point> at;
    for (const Start& start : starts) {
      if (start.key == page) at.push_back(start.at);
    }
    ASSERT_FALSE(at.empty()) << page.room_id << "/" << page.page;
    // Consecutive rebuilds of a page begin at least an interval apart (as
    // the scheduler stamps them), so n rebuilds since the first event span
    // at least n - 1 intervals.
    EXPECT_GE(at.back() - first_event, kInterval * static_cast<int>(at.size() - 1))
        << page.room_id << "/" << page.page << ": " << at.size() << " rebuilds";
    EXPECT_GE(at.back(), last_event[page.room_id])
        << page.room_id << "/" << page.page << ": the last event brought no rebuild";
  }
}

}  // namespace
}  // namespace micq::serve
