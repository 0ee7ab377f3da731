#include "open_loop.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

namespace micq::bench {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// ETags remembered per viewer are bounded: at most this many slots over all
// rooms, shared out by rooms; viewers past a room's share reuse slots (10
// million viewers would otherwise hold 10 million ETags).
constexpr std::size_t kMaxViewerSlots = 1'000'000;

// Shared by the sender and every request in flight (one thread).
struct Run {
  Run(OpenLoopPlan p, OpenLoopResult& r) : plan(std::move(p)), result(r) {}
  // Held here, not in the sender's frame: requests in flight keep it even
  // if the sender is torn down first.
  const OpenLoopPlan plan;
  OpenLoopResult& result;
  std::vector<std::vector<std::string>> etags;  // [room][viewer slot], when conditional
  bool sending_done = false;
  std::unique_ptr<asio::steady_timer> all_done;  // cancelled when the last request ends
};

std::vector<std::pair<std::string, std::string>> conditional_headers(const std::string& etag) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!etag.empty()) headers.emplace_back("If-None-Match", etag);
  return headers;
}

asio::awaitable<void> one_request(http::ClientPool& pool, std::shared_ptr<Run> run, std::size_t room,
                                  std::size_t viewer, Clock::time_point scheduled) {
  const OpenLoopPlan* plan = &run->plan;
  std::string* etag = plan->conditional ? &run->etags[room][viewer] : nullptr;
  auto call = pool.request(http::Method::get, plan->targets[room], "", plan->request_timeout,
                           conditional_headers(etag ? *etag : std::string()));
  auto reply = co_await std::move(call);
  auto now = Clock::now();
  auto latency = std::chrono::duration_cast<std::chrono::microseconds>(now - scheduled);
  bool good = reply && (reply->result_int() / 100 == 2 || reply->result_int() == 304);
  if (good) {
    run->result.ok.fetch_add(1, std::memory_order_relaxed);
    if (reply->result_int() == 304) run->result.not_modified.fetch_add(1, std::memory_order_relaxed);
    if (etag && reply->result_int() == 200) {
      auto tag = (*reply)[boost::beast::http::field::etag];
      etag->assign(tag.data(), tag.size());
    }
    run->result.latency.record(latency);
    if (plan->on_answer) plan->on_answer(room, *reply, now);
  } else {
    run->result.errors.fetch_add(1, std::memory_order_relaxed);
    std::string kind = reply ? "HTTP " + std::to_string(reply->result_int()) : reply.error().message();
    auto& kinds = run->result.error_kinds;
    if (kinds.size() >= OpenLoopResult::kMaxErrorKinds && !kinds.contains(kind)) kind = "other";
    ++kinds[kind];
  }
  if (run->result.in_flight.fetch_sub(1, std::memory_order_relaxed) == 1 && run->sending_done)
    run->all_done->cancel();
}

}  // namespace

asio::awaitable<void> run_open_loop(http::ClientPool& pool, OpenLoopPlan plan, OpenLoopResult& result) {
  auto executor = co_await asio::this_coro::executor;
  auto run = std::make_shared<Run>(plan, result);
  run->all_done = std::make_unique<asio::steady_timer>(executor, asio::steady_timer::time_point::max());
  auto start = Clock::now();
  auto end = start + plan.duration;
  const double rate = plan.mix->rate_per_second() * plan.rate_share;
  // Threads sharing an even load interleave rather than send in step.
  auto first =
      start + std::chrono::nanoseconds(static_cast<std::int64_t>(plan.start_offset_gaps * 1e9 / rate));
  loadgen::ArrivalSchedule schedule(plan.arrivals, rate, first, plan.seed);
  RoomPicker rooms(*plan.mix, plan.arrivals == loadgen::ArrivalSchedule::Kind::kPoisson, plan.seed + 1);
  // Which viewer of the room polls: in turn (even) or at random (Poisson).
  std::vector<std::size_t> slots;
  std::vector<std::size_t> next_viewer(plan.mix->rooms.size(), 0);
  // Bounded over all rooms; a thread sending 1/N of the load has 1/N of
  // the viewers, so each viewer polls as often as it would alone.
  const std::size_t per_room =
      std::max<std::size_t>(1, kMaxViewerSlots / std::max<std::size_t>(1, plan.mix->rooms.size()));
  for (const auto& room : plan.mix->rooms) {
    auto viewers = std::min<std::size_t>(static_cast<std::size_t>(std::max(room.viewers, 1)), per_room);
    slots.push_back(std::max<std::size_t>(
        1, static_cast<std::size_t>(std::ceil(static_cast<double>(viewers) * plan.rate_share))));
  }
  if (plan.conditional)
    for (std::size_t r = 0; r < slots.size(); ++r) run->etags.emplace_back(slots[r]);
  std::mt19937_64 viewer_rng(plan.seed + 2);
  asio::steady_timer pace(executor);
  for (auto at = schedule.next(); at < end; at = schedule.next()) {
    pace.expires_at(at);
    co_await pace.async_wait(asio::as_tuple(asio::use_awaitable));
    result.scheduled.fetch_add(1, std::memory_order_relaxed);
    result.in_flight.fetch_add(1, std::memory_order_relaxed);
    // Not awaited: the next send never waits for this answer (open loop).
    std::size_t room = rooms.next();
    std::size_t viewer = plan.arrivals == loadgen::ArrivalSchedule::Kind::kEven
                             ? next_viewer[room]++ % slots[room]
                             : static_cast<std::size_t>(viewer_rng() % slots[room]);
    asio::co_spawn(executor, one_request(pool, run, room, viewer, at), asio::detached);
  }
  run->sending_done = true;
  if (result.in_flight.load(std::memory_order_relaxed) > 0)
    co_await run->all_done->async_wait(asio::as_tuple(asio::use_awaitable));
  result.elapsed = Clock::now() - start;
}

}  // namespace micq::bench
