#include "micq/coalesce/cache.h"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/result.hpp>
#include <cmath>
#include <deque>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "micq/coalesce/testing/gate.h"

namespace micq::coalesce {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::Gate;
using StringCache = Cache<std::string, std::string>;

// A test's view of one dependency: what the next load returns, whether it
// throws, whether it waits on a gate, and how long it "takes" on the
// manual clock.
struct Source {
  std::string value = "v1";
  bool fail = false;
  Gate* gate = nullptr;
  Duration takes{0};
  int loads = 0;
};

// What a loader that returns its failure returns.
struct Down {
  int status = 503;
};

class CacheTest : public ::testing::Test {
 protected:
  CacheTest() {
    options.ttl = 1000ms;
    options.max_stale = 30s;
    options.ttl_jitter = 0;
    options.early_refresh_beta = 0;
    options.error_backoff = 250ms;
    options.clock = clock;
    options.uniform = [this] { return draw; };
  }

  StringCache& cache() {
    if (!cache_) cache_.emplace(options);
    return *cache_;
  }

  auto loader() {
    return [this]() -> asio::awaitable<std::string> {
      ++source.loads;
      std::string value = source.value;
      bool fail = source.fail;
      if (source.gate) co_await source.gate->wait();
      clock->advance(source.takes);
      if (fail) throw std::runtime_error("aggregator down");
      co_return value;
    };
  }

  // The same dependency, failing by returning its error instead of throwing.
  auto returning_loader() {
    return [this]() -> asio::awaitable<boost::system::result<std::string, Down>> {
      ++source.loads;
      std::string value = source.value;
      bool fail = source.fail;
      if (source.gate) co_await source.gate->wait();
      clock->advance(source.takes);
      if (fail) co_return Down{503};
      co_return value;
    };
  }

  template <class Loader>
  CacheResult<std::string> get_with(const std::string& key, Loader loader) {
    std::optional<CacheResult<std::string>> out;
    asio::co_spawn(
        ctx,
        [this, key, loader, &out]() -> asio::awaitable<void> { out = co_await cache().get(key, loader); },
        asio::detached);
    ctx.restart();
    while (!out && ctx.run_one() > 0) {
    }
    EXPECT_TRUE(out.has_value()) << "get() did not complete";
    return out.value_or(CacheResult<std::string>{});
  }

  // Runs one get() to completion (or until the io_context has nothing left
  // to do) and returns what it produced.
  CacheResult<std::string> get(const std::string& key, StringCache::WaitTimeout timeout = std::nullopt) {
    std::optional<CacheResult<std::string>> out;
    start_get(key, out, timeout);
    ctx.restart();
    while (!out && ctx.run_one() > 0) {
    }
    EXPECT_TRUE(out.has_value()) << "get() did not complete";
    return out.value_or(CacheResult<std::string>{});
  }

  void start_get(const std::string& key, std::optional<CacheResult<std::string>>& out,
                 StringCache::WaitTimeout timeout = std::nullopt) {
    asio::co_spawn(
        ctx,
        [this, key, &out, timeout]() -> asio::awaitable<void> {
          out = co_await cache().get(key, loader(), timeout);
        },
        asio::detached);
  }

  void start_refresh(const std::string& key, std::optional<std::optional<Result<std::string>>>& out) {
    asio::co_spawn(
        ctx, [this, key, &out]() -> asio::awaitable<void> { out = co_await cache().refresh(key, loader()); },
        asio::detached);
  }

  void drain() {
    ctx.restart();
    ctx.run();
  }

  asio::io_context ctx;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  double draw = 0.5;
  CacheOptions options;
  Source source;
  std::optional<StringCache> cache_;
};

TEST_F(CacheTest, MissLoadsThenHitServesFromMemory) {
  auto first = get("r1");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first.freshness, Freshness::kLoaded);
  EXPECT_EQ(*first.value, "v1");
  source.value = "v2";
  auto second = get("r1");
  EXPECT_EQ(second.freshness, Freshness::kFresh);
  EXPECT_EQ(*second.value, "v1");
  EXPECT_EQ(second.value.get(), first.value.get()) << "a hit shares the stored value";
  auto third = cache().lookup_fresh("r1");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->value.get(), first.value.get());
  EXPECT_EQ(source.loads, 1);
  CacheStats stats = cache().stats();
  EXPECT_EQ(stats.hits, 2u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.loads_started, 1u);
}

TEST_F(CacheTest, LookupFreshMissesWhenNothingIsCached) {
  EXPECT_FALSE(cache().lookup_fresh("r1"));
  EXPECT_EQ(source.loads, 0);
}

TEST_F(CacheTest, ConcurrentMissesShareOneLoad) {
  Gate gate(ctx.get_executor());
  source.gate = &gate;
  std::optional<CacheResult<std::string>> out[10];
  for (auto& o : out) start_get("r1", o);
  ctx.poll();
  EXPECT_EQ(source.loads, 1);
  gate.open();
  drain();
  for (auto& o : out) {
    ASSERT_TRUE(o && o->ok());
    EXPECT_EQ(*o->value, "v1");
  }
  EXPECT_EQ(cache().stats().callers_coalesced, 9u);
}

TEST_F(CacheTest, ExpiredValueIsReloadedWhileTheCallerWaits) {
  get("r1");
  clock->advance(1001ms);
  source.value = "v2";
  EXPECT_FALSE(cache().lookup_fresh("r1"));
  auto r = get("r1");
  EXPECT_EQ(r.freshness, Freshness::kLoaded) << "without stale-while-revalidate, never older than the TTL";
  EXPECT_EQ(*r.value, "v2");
  EXPECT_EQ(source.loads, 2);
}

TEST_F(CacheTest, AgeIsMeasuredFromTheStartOfTheLoad) {
  source.takes = 40ms;
  get("r1");
  clock->advance(100ms);
  auto r = get("r1");
  EXPECT_EQ(r.freshness, Freshness::kFresh);
  EXPECT_EQ(r.age, 140ms);
}

TEST_F(CacheTest, StaleIfErrorServesTheOldValueWhenTheReloadFails) {
  get("r1");
  clock->advance(1500ms);
  source.fail = true;
  auto r = get("r1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.freshness, Freshness::kStale);
  EXPECT_EQ(*r.value, "v1");
  EXPECT_EQ(r.age, 1500ms);
  CacheStats stats = cache().stats();
  EXPECT_EQ(stats.stale_hits, 1u);
  EXPECT_EQ(stats.loads_failed, 1u);
}

TEST_F(CacheTest, PastMaxStaleAFailureIsAnError) {
  get("r1");
  clock->advance(1000ms + 30s);
  source.fail = true;
  auto r = get("r1");
  EXPECT_EQ(r.status, Status::kLoadFailed);
  EXPECT_FALSE(r.value);
}

TEST_F(CacheTest, JustInsideMaxStaleStillServes) {
  get("r1");
  clock->advance(1000ms + 30s - 1ms);
  source.fail = true;
  auto r = get("r1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.freshness, Freshness::kStale);
}

TEST_F(CacheTest, StaleWhileRevalidateServesAtOnceAndRefreshesInTheBackground) {
  options.stale_while_revalidate = true;
  get("r1");
  clock->advance(1001ms);
  Gate gate(ctx.get_executor());
  source.gate = &gate;
  source.value = "v2";
  auto stale = get("r1");  // completes although the reload is held at the gate
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(stale.freshness, Freshness::kStale);
  EXPECT_EQ(*stale.value, "v1");
  EXPECT_EQ(source.loads, 2);
  auto again = get("r1");
  EXPECT_EQ(*again.value, "v1");
  EXPECT_EQ(source.loads, 2) << "one refresh at a time";
  gate.open();
  drain();
  auto fresh = get("r1");
  EXPECT_EQ(fresh.freshness, Freshness::kFresh);
  EXPECT_EQ(*fresh.value, "v2");
}

TEST_F(CacheTest, FailedLoadIsNotStoredAndBacksOff) {
  source.fail = true;
  auto failed = get("r1");
  EXPECT_EQ(failed.status, Status::kLoadFailed);
  ASSERT_TRUE(failed.error);
  source.fail = false;
  auto during_backoff = get("r1");
  EXPECT_EQ(during_backoff.status, Status::kLoadFailed) << "the same error, without a new load";
  EXPECT_EQ(during_backoff.error, failed.error);
  EXPECT_EQ(source.loads, 1);
  clock->advance(250ms);
  auto after = get("r1");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after.value, "v1");
  EXPECT_EQ(source.loads, 2);
}

TEST_F(CacheTest, AReturnedErrorIsHandedOnAsAValueAndBacksOff) {
  source.fail = true;
  auto failed = get_with("r1", returning_loader());
  EXPECT_EQ(failed.status, Status::kLoadFailed);
  EXPECT_FALSE(failed.error) << "nothing was thrown";
  ASSERT_NE(failed.error_as<Down>(), nullptr);
  EXPECT_EQ(failed.error_as<Down>()->status, 503);
  source.fail = false;
  auto during_backoff = get_with("r1", returning_loader());
  EXPECT_EQ(during_backoff.status, Status::kLoadFailed) << "the same error, without a new load";
  EXPECT_EQ(during_backoff.error_value, failed.error_value);
  EXPECT_EQ(source.loads, 1);
  EXPECT_EQ(cache().stats().loads_failed, 1u);
  clock->advance(250ms);
  auto after = get_with("r1", returning_loader());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after.value, "v1");
  EXPECT_FALSE(after.error_value);
}

TEST_F(CacheTest, AReturnedErrorServesTheStaleValue) {
  get_with("r1", returning_loader());
  clock->advance(1500ms);
  source.fail = true;
  auto r = get_with("r1", returning_loader());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.freshness, Freshness::kStale);
  EXPECT_EQ(*r.value, "v1");
  EXPECT_EQ(source.loads, 2);
}

TEST_F(CacheTest, BackoffServesStaleWithoutHammeringTheDependency) {
  get("r1");
  clock->advance(1001ms);
  source.fail = true;
  get("r1");  // fails, serves stale, starts the back-off
  auto r = get("r1");
  EXPECT_EQ(r.freshness, Freshness::kStale);
  EXPECT_EQ(source.loads, 2) << "no load during the back-off";
}

TEST_F(CacheTest, EarlyRefreshStartsBeforeExpiryAndNobodyWaits) {
  options.early_refresh_beta = 1.0;
  source.takes = 100ms;   // delta of XFetch
  get("r1");              // built at t0, fresh until t0 + 1000ms
  clock->advance(850ms);  // 50 ms before expiry (the load took 100 ms of it)
  draw = std::exp(-1.0);  // -delta * beta * ln(u) = 100 ms >= 50 ms: due
  EXPECT_FALSE(cache().lookup_fresh("r1")) << "the fast path hands a due refresh to get()";
  Gate gate(ctx.get_executor());
  source.gate = &gate;
  source.value = "v2";
  auto r = get("r1");
  EXPECT_EQ(r.freshness, Freshness::kFresh);
  EXPECT_EQ(*r.value, "v1") << "served at once from memory";
  EXPECT_EQ(source.loads, 2);
  EXPECT_EQ(cache().stats().early_refreshes, 1u);
  for (int i = 0; i < 5; ++i) get("r1");
  EXPECT_EQ(source.loads, 2) << "at most one refresh per key at a time";
  gate.open();
  drain();
  auto after = get("r1");
  EXPECT_EQ(*after.value, "v2");
}

TEST_F(CacheTest, NoEarlyRefreshFarFromExpiry) {
  options.early_refresh_beta = 1.0;
  source.takes = 10ms;
  get("r1");
  clock->advance(200ms);
  draw = 0.5;  // gap 6.9 ms, expiry 790 ms away
  get("r1");
  drain();
  EXPECT_EQ(source.loads, 1);
  EXPECT_EQ(cache().stats().early_refreshes, 0u);
}

TEST(CacheAgeTest, AValueBuiltEarlierElsewhereKeepsOnlyTheRestOfItsTtl) {
  auto clock = std::make_shared<ManualClock>();
  CacheOptions options;
  options.ttl = 1000ms;
  options.ttl_jitter = 0;
  options.early_refresh_beta = 0;
  options.clock = clock;
  // The loaded value says how old it already is (here: 600 ms).
  Cache<std::string, std::pair<std::string, Duration>> cache(
      options, [](const std::pair<std::string, Duration>& v) { return v.second; });
  asio::io_context ctx;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto r = co_await cache.get("k", []() -> asio::awaitable<std::pair<std::string, Duration>> {
          co_return std::make_pair(std::string("shared"), Duration(600ms));
        });
        EXPECT_TRUE(r.ok());
      },
      asio::detached);
  ctx.run();
  clock->advance(399ms);
  auto hit = cache.lookup_fresh("k");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->age, 999ms) << "age counts from when the value was built";
  clock->advance(1ms);
  EXPECT_FALSE(cache.lookup_fresh("k")) << "fresh for the TTL's remaining 400 ms only";
}

TEST_F(CacheTest, JitterShortensTheTtlButNeverLengthensIt) {
  options.ttl_jitter = 0.5;
  draw = 0.5;  // cuts 0.5 * 0.5 of the TTL
  get("r1");
  clock->advance(749ms);
  EXPECT_TRUE(cache().lookup_fresh("r1"));
  clock->advance(2ms);
  EXPECT_FALSE(cache().lookup_fresh("r1"));
}

TEST_F(CacheTest, JitterWithTheLargestDrawKeepsTheFullTtl) {
  options.ttl_jitter = 0.5;
  draw = 1.0;
  get("r1");
  clock->advance(999ms);
  EXPECT_TRUE(cache().lookup_fresh("r1"));
  clock->advance(1ms);
  EXPECT_FALSE(cache().lookup_fresh("r1"));
}

TEST_F(CacheTest, InvalidateForcesTheNextCallerToLoad) {
  get("r1");
  cache().invalidate("r1");
  source.value = "v2";
  EXPECT_FALSE(cache().lookup_fresh("r1"));
  auto r = get("r1");
  EXPECT_EQ(r.freshness, Freshness::kLoaded);
  EXPECT_EQ(*r.value, "v2");
}

TEST_F(CacheTest, LoadInFlightDuringInvalidateDoesNotStoreItsOlderResult) {
  Gate gate(ctx.get_executor());
  source.gate = &gate;
  std::optional<CacheResult<std::string>> early;
  start_get("r1", early);
  ctx.poll();
  cache().invalidate("r1");  // an event lands while the old page loads
  gate.open();
  drain();
  ASSERT_TRUE(early && early->ok());
  EXPECT_EQ(*early->value, "v1") << "its own waiters still get it";
  source.gate = nullptr;
  source.value = "v2";
  auto r = get("r1");
  EXPECT_EQ(r.freshness, Freshness::kLoaded);
  EXPECT_EQ(*r.value, "v2");
}

TEST_F(CacheTest, EvictsTheLeastRecentlyUsedBeyondTheBound) {
  options.shards = 1;
  options.max_entries = 3;
  get("a");
  clock->advance(10ms);
  get("b");
  clock->advance(10ms);
  get("c");
  clock->advance(10ms);
  get("a");  // a is now more recent than b
  clock->advance(10ms);
  get("d");
  EXPECT_EQ(cache().size(), 3u);
  EXPECT_EQ(cache().stats().evictions, 1u);
  EXPECT_TRUE(cache().lookup_fresh("a"));
  EXPECT_FALSE(cache().lookup_fresh("b"));
  EXPECT_TRUE(cache().lookup_fresh("c"));
  EXPECT_TRUE(cache().lookup_fresh("d"));
}

TEST_F(CacheTest, CallerDeadlineFallsBackToTheStaleValue) {
  get("r1");
  clock->advance(1500ms);
  Gate gate(ctx.get_executor());
  source.gate = &gate;
  auto r = get("r1", 5ms);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.freshness, Freshness::kStale);
  gate.open();
  drain();
}

TEST_F(CacheTest, CallerDeadlineWithNothingCachedTimesOut) {
  Gate gate(ctx.get_executor());
  source.gate = &gate;
  auto r = get("r1", 5ms);
  EXPECT_EQ(r.status, Status::kTimedOut);
  gate.open();
  drain();
  EXPECT_TRUE(cache().lookup_fresh("r1")) << "the load went on and was stored";
}

TEST_F(CacheTest, CancelledCallerDoesNotCancelTheLoad) {
  Gate gate(ctx.get_executor());
  source.gate = &gate;
  asio::cancellation_signal cancel;
  std::optional<CacheResult<std::string>> out;
  asio::co_spawn(
      ctx, [&]() -> asio::awaitable<void> { out = co_await cache().get("r1", loader()); },
      asio::bind_cancellation_slot(cancel.slot(), asio::detached));
  ctx.poll();
  cancel.emit(asio::cancellation_type::terminal);
  ctx.poll();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, Status::kCancelled);
  gate.open();
  drain();
  EXPECT_TRUE(cache().lookup_fresh("r1"));
  EXPECT_EQ(source.loads, 1);
}

// The hot path serves repeat hits from a per-thread view; these pin that
// the view never outlives what it mirrors.
TEST_F(CacheTest, RepeatHitSeesAnInvalidation) {
  get("r1");
  ASSERT_TRUE(cache().lookup_fresh("r1"));  // recorded in this thread's view
  ASSERT_TRUE(cache().lookup_fresh("r1"));  // served from it
  cache().invalidate("r1");
  EXPECT_FALSE(cache().lookup_fresh("r1"));
}

TEST_F(CacheTest, RepeatHitSeesARefreshedValue) {
  get("r1");
  ASSERT_TRUE(cache().lookup_fresh("r1"));
  clock->advance(1001ms);
  source.value = "v2";
  get("r1");
  auto hit = cache().lookup_fresh("r1");
  ASSERT_TRUE(hit);
  EXPECT_EQ(*hit->value, "v2");
}

TEST_F(CacheTest, RepeatHitSeesAnEviction) {
  options.shards = 1;
  options.max_entries = 1;
  get("a");
  ASSERT_TRUE(cache().lookup_fresh("a"));
  clock->advance(10ms);
  get("b");  // evicts a
  EXPECT_FALSE(cache().lookup_fresh("a"));
}

TEST_F(CacheTest, RepeatHitStopsAtExpiry) {
  get("r1");
  ASSERT_TRUE(cache().lookup_fresh("r1"));
  clock->advance(999ms);
  EXPECT_TRUE(cache().lookup_fresh("r1"));
  clock->advance(1ms);
  EXPECT_FALSE(cache().lookup_fresh("r1"));
}

TEST_F(CacheTest, HitsOnOtherThreadsShareTheValueAndAreAllCounted) {
  get("r1");
  const std::string* stored = cache().lookup_fresh("r1")->value.get();
  constexpr int kThreads = 4, kHits = 1000;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::atomic<int> same{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kHits; ++i) {
        auto hit = cache().lookup_fresh("r1");
        if (hit && hit->value.get() == stored) ++same;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(same.load(), kThreads * kHits) << "one stored body, never copied per thread";
  EXPECT_EQ(cache().stats().hits, 1u + kThreads * kHits);
}

TEST_F(CacheTest, ValueOutlivesItsEviction) {
  options.shards = 1;
  options.max_entries = 1;
  get("a");
  auto held = cache().lookup_fresh("a");
  ASSERT_TRUE(held);
  clock->advance(10ms);
  get("b");  // evicts a while a response still holds it
  EXPECT_EQ(*held->value, "v1");
}

// The refresh-ahead guarantee of SPEC §5, on the manual clock: a key asked
// every `gap` whose loads take `load` (> gap) is never found expired, over
// many TTL cycles, with jitter and XFetch drawing real random numbers. Each
// load stays in flight until the test has moved the clock by `load`.
class HotKeyTest : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(HotKeyTest, AKeyAskedMoreOftenThanItsLoadTakesNeverWaits) {
  const Duration gap = std::chrono::milliseconds(GetParam().first);
  const Duration load = std::chrono::milliseconds(GetParam().second);
  auto clock = std::make_shared<ManualClock>();
  std::mt19937_64 rng(20261201);
  CacheOptions options;
  options.ttl = 1000ms;
  options.ttl_jitter = 0.1;
  options.early_refresh_beta = 1.0;
  options.clock = clock;
  options.uniform = [&rng] { return 1.0 - static_cast<double>(rng() >> 11) * 0x1.0p-53; };
  StringCache cache(options);
  asio::io_context ctx;
  struct Pending {
    TimePoint started;
    std::unique_ptr<Gate> gate;
  };
  std::vector<Pending> pending;
  int loads = 0;
  auto loader = [&]() -> asio::awaitable<std::string> {
    pending.push_back({clock->now(), std::make_unique<Gate>(ctx.get_executor())});
    Gate* gate = pending.back().gate.get();
    std::string value = "v" + std::to_string(++loads);
    co_await gate->wait();
    co_return value;
  };
  int waited = 0, asked = 0, warming = 0;
  std::deque<std::optional<CacheResult<std::string>>> answers;
  const Duration step = 1ms;
  Duration since_ask = gap;
  for (Duration t{0}; t < 60s; t += step) {
    for (auto& p : pending) {
      if (!p.gate->is_open() && clock->now() - p.started >= load) p.gate->open();
    }
    ctx.restart();
    ctx.poll();  // a load that ends now is stored before this instant's ask
    if (since_ask >= gap) {
      since_ask = Duration::zero();
      ++asked;
      // Kept for the whole test: an ask that waits completes later.
      std::optional<CacheResult<std::string>>& out = answers.emplace_back();
      if (auto hit = cache.lookup_fresh("hot")) {
        out = std::move(*hit);
      } else {
        asio::co_spawn(
            ctx, [&]() -> asio::awaitable<void> { out = co_await cache.get("hot", loader); }, asio::detached);
      }
      ctx.restart();
      ctx.poll();
      if (t < load) {
        // Until the first load ends there is nothing to serve: these wait.
        EXPECT_FALSE(out);
        ++warming;
      } else if (!out || out->freshness != Freshness::kFresh) {
        ++waited;
      }
    }
    ctx.restart();
    ctx.poll();
    clock->advance(step);
    since_ask += step;
  }
  for (auto& p : pending) p.gate->open();
  ctx.restart();
  ctx.run();
  EXPECT_EQ(waited, 0) << "asked " << asked << " times, " << loads << " loads";
  EXPECT_GE(loads, 60) << "about one load per TTL";
  EXPECT_LE(loads, 60 * 4) << "refresh ahead is not a reload per ask";
  EXPECT_EQ(cache.stats().load_waits, static_cast<std::uint64_t>(warming))
      << "only the asks before the first value";
}

// (gap, load) in ms: asked every 50 ms with a 300 ms load (the case that
// used to wait), every 299 ms with a 300 ms load, and every 5 ms with 20.
INSTANTIATE_TEST_SUITE_P(GapsAndLoads, HotKeyTest,
                         ::testing::Values(std::pair{50, 300}, std::pair{299, 300}, std::pair{5, 20}));

TEST_F(CacheTest, RefreshKeepsServingTheOldValueUntilTheNewOneIsStored) {
  get("r1");
  Gate gate(ctx.get_executor());
  source.gate = &gate;
  source.value = "v2";
  std::optional<std::optional<Result<std::string>>> refreshed;
  start_refresh("r1", refreshed);
  ctx.restart();
  ctx.poll();
  EXPECT_EQ(source.loads, 2) << "the rebuild started at once";
  auto during = cache().lookup_fresh("r1");
  ASSERT_TRUE(during) << "callers are not sent to wait for the rebuild";
  EXPECT_EQ(*during->value, "v1");
  gate.open();
  drain();
  ASSERT_TRUE(refreshed && *refreshed && (*refreshed)->ok());
  EXPECT_EQ(*(*refreshed)->value, "v2");
  auto after = cache().lookup_fresh("r1");
  ASSERT_TRUE(after);
  EXPECT_EQ(*after->value, "v2");
  EXPECT_EQ(cache().stats().load_waits, 1u) << "only the first miss waited";
}

TEST_F(CacheTest, RefreshWaitsOutALoadAlreadyInFlightThenLoadsAgain) {
  get("r1");
  clock->advance(2s);  // expired: the next caller starts a reload
  Gate first(ctx.get_executor());
  source.gate = &first;
  source.value = "before-the-event";
  std::optional<CacheResult<std::string>> caller;
  start_get("r1", caller);
  ctx.restart();
  ctx.poll();
  ASSERT_EQ(source.loads, 2);
  Gate second(ctx.get_executor());
  std::optional<std::optional<Result<std::string>>> refreshed;
  start_refresh("r1", refreshed);
  ctx.restart();
  ctx.poll();
  EXPECT_EQ(source.loads, 2) << "joins the load in flight (at most one per key)";
  source.gate = &second;
  source.value = "after-the-event";
  first.open();
  ctx.restart();
  ctx.poll();
  EXPECT_EQ(source.loads, 3) << "then loads again: the joined load may predate the event";
  second.open();
  drain();
  ASSERT_TRUE(refreshed && *refreshed && (*refreshed)->ok());
  EXPECT_EQ(*(*refreshed)->value, "after-the-event");
  ASSERT_TRUE(caller && caller->ok());
  EXPECT_EQ(*caller->value, "before-the-event");
}

TEST_F(CacheTest, RefreshOfAKeyNobodyAskedForLoadsNothing) {
  std::optional<std::optional<Result<std::string>>> refreshed;
  start_refresh("r1", refreshed);
  drain();
  ASSERT_TRUE(refreshed);
  EXPECT_FALSE(*refreshed);
  EXPECT_EQ(source.loads, 0);
  EXPECT_FALSE(cache().contains("r1"));
}

TEST_F(CacheTest, AFailedRefreshLeavesTheOldValue) {
  get("r1");
  source.fail = true;
  std::optional<std::optional<Result<std::string>>> refreshed;
  start_refresh("r1", refreshed);
  drain();
  ASSERT_TRUE(refreshed && *refreshed);
  EXPECT_EQ((*refreshed)->status, Status::kLoadFailed);
  auto hit = cache().lookup_fresh("r1");
  ASSERT_TRUE(hit);
  EXPECT_EQ(*hit->value, "v1");
}

TEST_F(CacheTest, RefreshLeadWidensTheRefreshWindow) {
  // Loads take no time, but the value says its next reload may take 300 ms
  // (e.g. records to fetch again): refresh ahead starts 600 ms early.
  Cache<std::string, std::string> cache(options, {}, [](const std::string&) { return Duration(300ms); });
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        co_await cache.get("k", []() -> asio::awaitable<std::string> { co_return "v"; });
      },
      asio::detached);
  drain();
  clock->advance(399ms);
  EXPECT_TRUE(cache.lookup_fresh("k"));
  clock->advance(1ms);
  EXPECT_FALSE(cache.lookup_fresh("k")) << "due: the window opened 600 ms before expiry";
}

TEST_F(CacheTest, ASlowLoadKeepsTheRefreshWindowWideForTheLoadsAfterIt) {
  source.takes = 300ms;
  get("r1");  // built at 0, stored at 300: fresh until 1000, window 600
  clock->advance(150ms);
  source.takes = 0ms;
  get("r1");  // at 450, in the window: a refresh that takes no time
  drain();
  ASSERT_EQ(source.loads, 2);
  // Fresh until 1450; the quick reload alone would leave no window, but the
  // slow one still counts at 300 ms x 2^(-150/1000) = 270 ms: window 540 ms.
  clock->advance(459ms);  // 909
  EXPECT_TRUE(cache().lookup_fresh("r1"));
  clock->advance(2ms);  // 911
  EXPECT_FALSE(cache().lookup_fresh("r1")) << "due: the window remembers the slow load";
}

TEST_F(CacheTest, ARefreshAheadThatJoinsARebuildLoadsAgainItself) {
  options.refresh_window_min = 100ms;
  get("r1");  // fresh until 1000, refresh window from 900
  clock->advance(850ms);
  Gate rebuild(ctx.get_executor());
  source.gate = &rebuild;
  std::optional<std::optional<Result<std::string>>> rebuilt;
  start_refresh("r1", rebuilt);  // an event's rebuild, held
  ctx.restart();
  ctx.poll();
  ASSERT_EQ(source.loads, 2);
  clock->advance(60ms);  // 910: in the window
  auto hit = get("r1");
  EXPECT_EQ(hit.freshness, Freshness::kFresh);
  EXPECT_EQ(source.loads, 2) << "the refresh ahead joined the rebuild in flight";
  source.gate = nullptr;
  rebuild.open();
  drain();
  EXPECT_EQ(source.loads, 3) << "then ran its own load: the rebuild may renew less than it does";
}

TEST(CacheExpiryTest, ARebuildFromDataAsOldKeepsTheExpiry) {
  auto clock = std::make_shared<ManualClock>();
  double draw = 1.0;  // jitter cut = ttl x 0.5 x (1 - draw): none
  CacheOptions options;
  options.ttl = 1000ms;
  options.ttl_jitter = 0.5;
  options.early_refresh_beta = 0;
  options.refresh_window_factor = 0;
  options.clock = clock;
  options.uniform = [&draw] { return draw; };
  using Aged = std::pair<std::string, Duration>;  // the value and how old its data is
  Cache<std::string, Aged> cache(options, [](const Aged& v) { return v.second; });
  asio::io_context ctx;
  auto load = [&](Aged value) {
    asio::co_spawn(
        ctx,
        [&, value]() -> asio::awaitable<void> {
          // The loader named first: g++ 12 destroys the captures of a lambda
          // made inside a co_await expression twice (docs/design.md).
          auto loader = [value]() -> asio::awaitable<Aged> { co_return value; };
          auto refreshing = cache.refresh("k", loader);
          co_await std::move(refreshing);
        },
        asio::detached);
    ctx.restart();
    ctx.run();
  };
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        co_await cache.get("k", []() -> asio::awaitable<Aged> { co_return Aged{"v1", Duration(0)}; });
      },
      asio::detached);
  ctx.run();  // built at 0, fresh until 1000 (no cut)
  clock->advance(300ms);
  draw = 0.0;                         // a new draw would cut 500 ms
  load(Aged{"v2", Duration(300ms)});  // rebuilt at 300 from data of 0
  clock->advance(699ms);              // 999
  auto hit = cache.lookup_fresh("k");
  ASSERT_TRUE(hit) << "the expiry of data built at 0 stays where it was";
  EXPECT_EQ(hit->value->first, "v2");
  clock->advance(1ms);
  EXPECT_FALSE(cache.lookup_fresh("k"));
  load(Aged{"v3", Duration(0)});  // fresh data: a new expiry, drawn anew
  clock->advance(499ms);
  EXPECT_TRUE(cache.lookup_fresh("k"));
  clock->advance(1ms);
  EXPECT_FALSE(cache.lookup_fresh("k")) << "the new draw cut 500 ms";
}

}  // namespace
}  // namespace micq::coalesce
