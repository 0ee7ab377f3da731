#include "open_loop.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

namespace micq::bench {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// Shared by the sender and every request in flight (one thread).
struct Run {
  OpenLoopResult result;
  std::uint64_t in_flight = 0;
  bool sending_done = false;
  std::unique_ptr<asio::steady_timer> all_done;  // cancelled when the last request ends
};

asio::awaitable<void> one_request(http::ClientPool& pool, std::shared_ptr<Run> run, std::string target,
                                  Clock::time_point scheduled, std::chrono::milliseconds timeout) {
  auto call = pool.request(http::Method::get, std::move(target), "", timeout);
  auto reply = co_await std::move(call);
  auto latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - scheduled);
  bool good = reply && (reply->result_int() / 100 == 2 || reply->result_int() == 304);
  if (good) {
    ++run->result.ok;
    run->result.latency.record(latency);
  } else {
    ++run->result.errors;
  }
  if (--run->in_flight == 0 && run->sending_done) run->all_done->cancel();
}

}  // namespace

asio::awaitable<OpenLoopResult> run_open_loop(http::ClientPool& pool, OpenLoopPlan plan) {
  auto executor = co_await asio::this_coro::executor;
  auto run = std::make_shared<Run>();
  run->all_done = std::make_unique<asio::steady_timer>(executor, asio::steady_timer::time_point::max());
  auto start = Clock::now();
  auto end = start + plan.duration;
  loadgen::ArrivalSchedule schedule(plan.arrivals, plan.rate_per_second, start, plan.seed);
  asio::steady_timer pace(executor);
  for (auto at = schedule.next(); at < end; at = schedule.next()) {
    pace.expires_at(at);
    co_await pace.async_wait(asio::as_tuple(asio::use_awaitable));
    ++run->result.scheduled;
    ++run->in_flight;
    // Not awaited: the next send never waits for this answer (open loop).
    asio::co_spawn(executor, one_request(pool, run, plan.target, at, plan.request_timeout), asio::detached);
  }
  run->sending_done = true;
  if (run->in_flight > 0) co_await run->all_done->async_wait(asio::as_tuple(asio::use_awaitable));
  run->result.elapsed = Clock::now() - start;
  co_return run->result;
}

}  // namespace micq::bench
