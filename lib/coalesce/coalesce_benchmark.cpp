// Hit path and coalescing, each beside a naive std::mutex + unordered_map
// cache measured in the same run. Not a CI gate: run by hand, e.g.
//   build/lib/coalesce/coalesce_benchmark --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "micq/coalesce/cache.h"
#include "micq/coalesce/group.h"

namespace {

namespace asio = boost::asio;
using micq::coalesce::Cache;
using micq::coalesce::CacheOptions;
using micq::coalesce::Group;
using Body = std::string;

constexpr int kRooms = 1024;

// The straightforward cache a team writes first: one mutex, one map, an
// expiry per entry.
class NaiveCache {
 public:
  struct Entry {
    std::shared_ptr<const Body> body;
    std::chrono::steady_clock::time_point expires;
  };
  std::shared_ptr<const Body> lookup(int room) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    auto it = map_.find(room);
    if (it == map_.end() || now >= it->second.expires) return nullptr;
    return it->second.body;
  }
  void store(int room, std::shared_ptr<const Body> body) {
    std::lock_guard lock(mu_);
    map_[room] = {std::move(body), std::chrono::steady_clock::now() + std::chrono::hours(1)};
  }

 private:
  std::mutex mu_;
  std::unordered_map<int, Entry> map_;
};

CacheOptions long_ttl() {
  CacheOptions options;
  options.ttl = std::chrono::hours(1);
  return options;
}

// Fills `cache` with kRooms entries through the real load path.
void fill(Cache<int, Body>& cache) {
  asio::io_context ctx;
  for (int room = 0; room < kRooms; ++room) {
    asio::co_spawn(
        ctx,
        [&cache, room]() -> asio::awaitable<void> {
          auto r = co_await cache.get(room, []() -> asio::awaitable<Body> { co_return Body(1024, 'x'); });
          (void)r;
        },
        asio::detached);
  }
  ctx.run();
}

Cache<int, Body>* shared_cache() {
  static auto* cache = [] {
    auto* c = new Cache<int, Body>(long_ttl());
    fill(*c);
    return c;
  }();
  return cache;
}

NaiveCache* shared_naive() {
  static auto* cache = [] {
    auto* c = new NaiveCache;
    for (int room = 0; room < kRooms; ++room) c->store(room, std::make_shared<const Body>(1024, 'x'));
    return c;
  }();
  return cache;
}

// The machine's own ceiling: work that shares nothing between threads.
// On a VM whose two vCPUs are one core's hyperthreads this, not 2.0x, is
// the most any hit path can scale.
void BM_Ceiling_NothingShared(benchmark::State& state) {
  std::uint64_t x = static_cast<std::uint64_t>(state.thread_index()) + 1;
  for (auto _ : state) {
    for (int i = 0; i < 16; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    benchmark::DoNotOptimize(x);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ceiling_NothingShared)->Threads(1)->Threads(2)->UseRealTime();

// Many rooms: each thread walks the rooms in its own order; `lookup(room)`
// is one hit on the cache measured.
template <class Lookup>
void hit_many_rooms(benchmark::State& state, Lookup lookup) {
  unsigned room = static_cast<unsigned>(state.thread_index()) * 7919u;
  for (auto _ : state) {
    room = (room + 613u) % kRooms;
    auto hit = lookup(static_cast<int>(room));
    benchmark::DoNotOptimize(hit);
  }
  state.SetItemsProcessed(state.iterations());
}

// One hot room read by every thread: the worst case for sharing.
template <class Lookup>
void hit_one_hot_room(benchmark::State& state, Lookup lookup) {
  for (auto _ : state) {
    auto hit = lookup(42);
    benchmark::DoNotOptimize(hit);
  }
  state.SetItemsProcessed(state.iterations());
}

auto coalesce_hit() {
  return [cache = shared_cache()](int room) { return cache->lookup_fresh(room); };
}
auto naive_hit() {
  return [cache = shared_naive()](int room) { return cache->lookup(room); };
}

void BM_Hit_Coalesce_ManyRooms(benchmark::State& state) { hit_many_rooms(state, coalesce_hit()); }
BENCHMARK(BM_Hit_Coalesce_ManyRooms)->Threads(1)->Threads(2)->UseRealTime();

void BM_Hit_Naive_ManyRooms(benchmark::State& state) { hit_many_rooms(state, naive_hit()); }
BENCHMARK(BM_Hit_Naive_ManyRooms)->Threads(1)->Threads(2)->UseRealTime();

void BM_Hit_Coalesce_OneHotRoom(benchmark::State& state) { hit_one_hot_room(state, coalesce_hit()); }
BENCHMARK(BM_Hit_Coalesce_OneHotRoom)->Threads(1)->Threads(2)->UseRealTime();

void BM_Hit_Naive_OneHotRoom(benchmark::State& state) { hit_one_hot_room(state, naive_hit()); }
BENCHMARK(BM_Hit_Naive_OneHotRoom)->Threads(1)->Threads(2)->UseRealTime();

// A hit through the full coroutine entry point (co_await cache.get()).
void BM_Hit_Coalesce_CoroutineGet(benchmark::State& state) {
  auto* cache = shared_cache();
  asio::io_context ctx;
  std::int64_t n = 0;
  for (auto _ : state) {
    state.PauseTiming();
    ctx.restart();
    state.ResumeTiming();
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < 1000; ++i) {
            auto r = co_await cache->get(i % kRooms, []() -> asio::awaitable<Body> { co_return Body(); });
            benchmark::DoNotOptimize(r);
          }
        },
        asio::detached);
    ctx.run();
    n += 1000;
  }
  state.SetItemsProcessed(n);
}
BENCHMARK(BM_Hit_Coalesce_CoroutineGet);

// 10,000 callers arrive for one cold room while its load is in flight.
// The load: one trip through the event loop plus building a 10 KB body.
constexpr int kCallers = 10'000;

asio::awaitable<Body> build_body() {
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  co_return Body(std::size_t{10} * 1024, 'x');
}

// The harness alone: 10,000 coroutines spawned, each suspending once. What
// the two benchmarks below cost beyond this is the cache's own work.
void BM_Floor_10kCoroutines_OnePostEach(benchmark::State& state) {
  for (auto _ : state) {
    asio::io_context ctx;
    int done = 0;
    for (int i = 0; i < kCallers; ++i) {
      asio::co_spawn(
          ctx,
          [&]() -> asio::awaitable<void> {
            co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
            ++done;
          },
          asio::detached);
    }
    ctx.run();
    if (done != kCallers) state.SkipWithError("not every caller completed");
  }
}
BENCHMARK(BM_Floor_10kCoroutines_OnePostEach)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Coalesce_10kCallers_OneLoad(benchmark::State& state) {
  std::int64_t loads = 0;
  for (auto _ : state) {
    asio::io_context ctx;
    Group<int, Body> group;
    int done = 0;
    for (int i = 0; i < kCallers; ++i) {
      asio::co_spawn(
          ctx,
          [&]() -> asio::awaitable<void> {
            auto r = co_await group.run(7, [&loads] {
              ++loads;
              return build_body();
            });
            benchmark::DoNotOptimize(r);
            ++done;
          },
          asio::detached);
    }
    ctx.run();
    if (done != kCallers) state.SkipWithError("not every caller completed");
  }
  state.counters["loads_per_iteration"] =
      static_cast<double>(loads) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Coalesce_10kCallers_OneLoad)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Naive_10kCallers_EachLoads(benchmark::State& state) {
  std::int64_t loads = 0;
  for (auto _ : state) {
    asio::io_context ctx;
    NaiveCache cache;
    int done = 0;
    for (int i = 0; i < kCallers; ++i) {
      asio::co_spawn(
          ctx,
          [&]() -> asio::awaitable<void> {
            auto body = cache.lookup(7);
            if (!body) {
              ++loads;
              Body built = co_await build_body();
              body = std::make_shared<const Body>(std::move(built));
              cache.store(7, body);
            }
            benchmark::DoNotOptimize(body);
            ++done;
          },
          asio::detached);
    }
    ctx.run();
    if (done != kCallers) state.SkipWithError("not every caller completed");
  }
  state.counters["loads_per_iteration"] =
      static_cast<double>(loads) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Naive_10kCallers_EachLoads)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
