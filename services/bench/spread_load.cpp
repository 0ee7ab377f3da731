#include "spread_load.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <set>
#include <thread>

#include "micq/sync/mutex.h"

namespace micq::bench {

namespace asio = boost::asio;

namespace {

// The helper threads and their way back. Helpers report completion by a
// post to the waiter's executor, under `mu`, unless the waiter has gone
// (its frame destroyed: Ctrl-C stopped the main io_context). Whoever
// owns this last stops and joins the helpers, so none outlives the
// results it writes to.
struct Helpers;
sync::Mutex registry_mu;
std::set<Helpers*> registry MICQ_GUARDED_BY(registry_mu);  // every live Helpers

struct Helpers {
  Helpers(asio::any_io_executor executor, std::size_t count)
      : remaining(count), all_done(std::move(executor), asio::steady_timer::time_point::max()) {
    sync::MutexLock lock(registry_mu);
    registry.insert(this);
  }
  ~Helpers() {
    {
      sync::MutexLock lock(registry_mu);
      registry.erase(this);
    }
    shut_down();
  }
  // Idempotent; on the waiter's thread.
  void shut_down() {
    {
      sync::MutexLock lock(mu);
      waiter_gone = true;
    }
    for (auto& ioc : contexts) ioc->stop();
    for (auto& thread : threads)
      if (thread.joinable()) thread.join();
  }
  std::size_t remaining;  // touched only on the waiter's executor
  asio::steady_timer all_done;
  sync::Mutex mu;
  bool waiter_gone MICQ_GUARDED_BY(mu) = false;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::thread> threads;
};

asio::awaitable<void> run_here(http::ClientPool& pool, OpenLoopPlan plan, OpenLoopResult& result) {
  auto run = run_open_loop(pool, std::move(plan), result);
  co_await std::move(run);
}

}  // namespace

asio::awaitable<void> run_spread_load(http::ClientPool& here, http::Upstream upstream,
                                      http::ClientOptions options, OpenLoopPlan plan,
                                      std::shared_ptr<SpreadResults> results) {
  auto executor = co_await asio::this_coro::executor;
  const std::size_t threads = std::max<std::size_t>(1, results->size());
  plan.rate_share = 1.0 / static_cast<double>(threads);
  // Owned by this frame only: destroyed (helpers stopped and joined) when
  // the run completes or the frame is torn down.
  auto helpers = std::make_unique<Helpers>(executor, threads - 1);
  Helpers* shared = helpers.get();
  for (std::size_t t = 1; t < threads; ++t) {
    OpenLoopPlan share = plan;
    share.seed = plan.seed + 1000 * t;
    share.start_offset_gaps = static_cast<double>(t) / static_cast<double>(threads);
    helpers->contexts.push_back(std::make_unique<asio::io_context>(1));
    asio::io_context* ioc = helpers->contexts.back().get();
    helpers->threads.emplace_back(
        [ioc, upstream, options, share = std::move(share), results, t, shared, executor] {
          {
            http::ClientPool pool(ioc->get_executor(), upstream, options);
            asio::co_spawn(*ioc, run_here(pool, share, (*results)[t]), asio::detached);
            ioc->run();
          }
          sync::MutexLock lock(shared->mu);
          if (shared->waiter_gone) return;
          asio::post(executor, [shared] {
            if (--shared->remaining == 0) shared->all_done.cancel();
          });
        });
  }
  auto mine = run_here(here, plan, (*results)[0]);
  co_await std::move(mine);
  if (helpers->remaining > 0) co_await helpers->all_done.async_wait(asio::as_tuple(asio::use_awaitable));
}

void stop_spread_loads() {
  sync::MutexLock lock(registry_mu);
  for (Helpers* helpers : registry) helpers->shut_down();
}

SpreadTotals count(const SpreadResults& results) {
  SpreadTotals totals;
  for (const auto& r : results) {
    totals.scheduled += r.scheduled.load(std::memory_order_relaxed);
    totals.ok += r.ok.load(std::memory_order_relaxed);
    totals.not_modified += r.not_modified.load(std::memory_order_relaxed);
    totals.errors += r.errors.load(std::memory_order_relaxed);
    totals.in_flight += r.in_flight.load(std::memory_order_relaxed);
  }
  return totals;
}

SpreadTotals merge(const SpreadResults& results) {
  SpreadTotals totals = count(results);
  for (const auto& r : results) {
    totals.latency.merge(r.latency);
    for (const auto& [kind, n] : r.error_kinds) {
      if (totals.error_kinds.size() >= OpenLoopResult::kMaxErrorKinds && !totals.error_kinds.contains(kind)) {
        totals.error_kinds["other"] += n;
      } else {
        totals.error_kinds[kind] += n;
      }
    }
  }
  return totals;
}

}  // namespace micq::bench
