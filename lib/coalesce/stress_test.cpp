// Many threads running one io_context, many coroutines, random keys, loaders
// that are slow or throw, waiters with deadlines. Asserts the invariants:
// never two concurrent loads of one key, every caller completes exactly
// once; ASan and TSan builds check for leaks and races.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <random>
#include <stdexcept>
#include <string>

#include "micq/coalesce/cache.h"
#include "micq/coalesce/group.h"

namespace micq::coalesce {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr int kKeys = 8;
constexpr int kThreads = 4;
constexpr int kCallers = 4000;

struct KeyWatch {
  std::atomic<int> loading{0};
  std::atomic<int> max_loading{0};
  std::atomic<int> loads{0};
};

// A loader that records how many loads of its key overlap, waits a random
// 0-300 us on a timer (never a sleeping thread) and throws on the 1st, 4th,
// 7th... load of its key (deterministic, so every run has failures).
asio::awaitable<int> watched_load(KeyWatch& watch, unsigned seed) {
  int now = ++watch.loading;
  int seen = watch.max_loading.load();
  while (now > seen && !watch.max_loading.compare_exchange_weak(seen, now)) {
  }
  bool fail = (++watch.loads % 3) == 1;
  std::minstd_rand rng(seed);
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::microseconds(rng() % 300));
  co_await timer.async_wait(asio::use_awaitable);
  --watch.loading;
  if (fail) throw std::runtime_error("downstream failed");
  co_return static_cast<int>(seed);
}

TEST(StressTest, GroupInvariantsHoldUnderLoad) {
  asio::thread_pool pool(kThreads);
  Group<int, int> group;
  std::array<KeyWatch, kKeys> watches;
  std::array<std::atomic<int>, kCallers> completions{};
  std::atomic<int> ok{0}, failed{0}, timed_out{0};
  for (int i = 0; i < kCallers; ++i) {
    asio::co_spawn(
        pool,
        [&, i]() -> asio::awaitable<void> {
          std::minstd_rand rng(i + 1);
          int key = static_cast<int>(rng() % kKeys);
          auto timeout = (i % 7 == 0) ? Group<int, int>::WaitTimeout(std::chrono::microseconds(rng() % 200))
                                      : std::nullopt;
          KeyWatch& watch = watches[key];
          unsigned seed = rng();
          auto loader = [&watch, seed] { return watched_load(watch, seed); };
          Result<int> r = co_await group.run(key, loader, timeout);
          switch (r.status) {
            case Status::kOk:
              ++ok;
              break;
            case Status::kLoadFailed:
              ++failed;
              break;
            case Status::kTimedOut:
              ++timed_out;
              break;
            case Status::kCancelled:
              break;
          }
          ++completions[i];
        },
        asio::detached);
  }
  pool.join();
  for (auto& c : completions) ASSERT_EQ(c.load(), 1) << "every caller completes exactly once";
  int loads = 0;
  for (auto& w : watches) {
    EXPECT_LE(w.max_loading.load(), 1) << "two concurrent loads of one key";
    EXPECT_EQ(w.loading.load(), 0);
    loads += w.loads.load();
  }
  EXPECT_EQ(ok + failed + timed_out, kCallers);
  EXPECT_GT(failed.load(), 0);
  EXPECT_LT(loads, kCallers) << "coalescing happened";
  EXPECT_EQ(group.in_flight(), 0u);
}

TEST(StressTest, CacheInvariantsHoldUnderLoad) {
  asio::thread_pool pool(kThreads);
  CacheOptions options;
  options.ttl = 200us;  // real clock: entries expire, refresh and go stale constantly
  options.max_stale = 1ms;
  options.error_backoff = 50us;
  options.max_entries = kKeys / 2;  // evictions too
  options.shards = 2;
  Cache<int, int> cache(options);
  std::array<KeyWatch, kKeys> watches;
  std::array<std::atomic<int>, kCallers> completions{};
  for (int i = 0; i < kCallers; ++i) {
    asio::co_spawn(
        pool,
        [&, i]() -> asio::awaitable<void> {
          std::minstd_rand rng(i + 7);
          int key = static_cast<int>(rng() % kKeys);
          KeyWatch& watch = watches[key];
          unsigned seed = rng();
          if (auto hit = cache.lookup_fresh(key)) {
            EXPECT_TRUE(hit->value);
          } else {
            auto loader = [&watch, seed] { return watched_load(watch, seed); };
            auto timeout = (i % 5 == 0) ? Cache<int, int>::WaitTimeout(100us) : std::nullopt;
            CacheResult<int> r = co_await cache.get(key, loader, timeout);
            EXPECT_EQ(r.ok(), static_cast<bool>(r.value));
          }
          ++completions[i];
        },
        asio::detached);
  }
  pool.join();
  for (auto& c : completions) ASSERT_EQ(c.load(), 1);
  for (auto& w : watches) EXPECT_LE(w.max_loading.load(), 1) << "two concurrent loads of one key";
  EXPECT_LE(cache.size(), static_cast<std::size_t>(kKeys / 2));
  CacheStats stats = cache.stats();
  EXPECT_GT(stats.loads_started, 0u);
}

TEST(StressTest, InvalidationsRacingLoadsAreSafe) {
  asio::thread_pool pool(kThreads);
  Cache<int, int> cache;
  std::array<KeyWatch, kKeys> watches;
  std::atomic<int> completed{0};
  for (int i = 0; i < kCallers; ++i) {
    asio::co_spawn(
        pool,
        [&, i]() -> asio::awaitable<void> {
          int key = i % kKeys;
          if (i % 3 == 0) {
            cache.invalidate(key);
          } else {
            KeyWatch& watch = watches[key];
            auto loader = [&watch, i] { return watched_load(watch, static_cast<unsigned>(i)); };
            CacheResult<int> r = co_await cache.get(key, loader);
            (void)r;
          }
          ++completed;
        },
        asio::detached);
  }
  pool.join();
  EXPECT_EQ(completed.load(), kCallers);
}

}  // namespace
}  // namespace micq::coalesce
