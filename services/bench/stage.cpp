#include "stage.h"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <cstdio>

#include "hot_room.h"
#include "json_field.h"
#include "open_loop.h"
#include "proc_stats.h"
#include "redis_stats.h"
#include "serve_counters.h"
#include "spread_load.h"
#include "staleness.h"

namespace micq::bench {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

struct Snapshot {
  std::optional<std::uint64_t> batches;
  std::optional<std::uint64_t> downstream;
  ServeCounters serve;
  std::optional<std::uint64_t> redis_commands;
  std::optional<double> cpu[kProcessCount];
};

// Serve instances' /metrics clients, one pool each (their own connections:
// a /metrics read never queues behind the polls).
using MetricsPools = std::vector<std::unique_ptr<http::ClientPool>>;

// A counter summed over instances: unknown only if no instance has it (an
// instance that never built a page may not export a series yet).
void add(std::optional<double>& sum, std::optional<double> more) {
  if (more) sum = sum.value_or(0) + *more;
}

// Serve's counters now, summed over the instances; all nullopt if no
// /metrics answers.
asio::awaitable<ServeCounters> read_serve_counters(MetricsPools& instances) {
  ServeCounters sum;
  for (auto& instance : instances) {
    auto call = instance->request(http::Method::get, "/metrics", "", 2s);
    auto reply = co_await std::move(call);
    if (!reply || reply->result_int() != 200) continue;
    ServeCounters one = serve_counters_from(reply->body());
    add(sum.load_waits, one.load_waits);
    add(sum.new_user_batches, one.new_user_batches);
    add(sum.other_privilege_batches, one.other_privilege_batches);
  }
  co_return sum;
}

// Serve's counters at `at` (the middle of the measured window).
asio::awaitable<void> read_serve_counters_at(MetricsPools& instances, Clock::time_point at,
                                             ServeCounters& counters) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, at);
  co_await timer.async_wait(use_tuple);
  auto reading = read_serve_counters(instances);
  counters = co_await std::move(reading);
}

// The CPU seconds of `pids` together; unknown if any is unreadable (or
// there are none).
std::optional<double> cpu_seconds_of_all(const std::vector<pid_t>& pids) {
  if (pids.empty()) return std::nullopt;
  double sum = 0;
  for (pid_t pid : pids) {
    auto used = cpu_seconds_of(pid);
    if (!used) return std::nullopt;
    sum += *used;
  }
  return sum;
}

asio::awaitable<Snapshot> take_snapshot(const Endpoints& endpoints, http::ClientPool* aggregator,
                                        MetricsPools& serve) {
  Snapshot snapshot;
  auto reading = read_serve_counters(serve);
  snapshot.serve = co_await std::move(reading);
  if (!endpoints.redis_nodes.empty()) {
    auto counting = commands_processed(endpoints.redis_nodes);
    snapshot.redis_commands = co_await std::move(counting);
  }
  if (aggregator) {
    auto call = aggregator->request(http::Method::get, "/stats", "", 2s);
    auto reply = co_await std::move(call);
    if (reply && reply->result_int() == 200) {
      auto batches = json_int_field(reply->body(), "batches_total");
      auto downstream = json_int_field(reply->body(), "downstream_requests_total");
      if (batches && downstream) {
        snapshot.batches = static_cast<std::uint64_t>(*batches);
        snapshot.downstream = static_cast<std::uint64_t>(*downstream);
      }
    }
  }
  for (std::size_t p = 0; p + 1 < kProcessCount; ++p) snapshot.cpu[p] = cpu_seconds_of_all(endpoints.pids[p]);
  snapshot.cpu[kProcessCount - 1] = cpu_seconds_of(getpid());
  co_return snapshot;
}

std::optional<std::uint64_t> delta(std::optional<std::uint64_t> before, std::optional<std::uint64_t> after) {
  if (!before || !after || *after < *before) return std::nullopt;
  return *after - *before;
}

// Counters read as doubles from Prometheus text.
std::optional<std::uint64_t> delta(std::optional<double> before, std::optional<double> after) {
  if (!before || !after || !(*after >= *before) || !std::isfinite(*after)) return std::nullopt;
  return static_cast<std::uint64_t>(std::llround(*after - *before));
}

double ms(std::uint64_t us) { return static_cast<double>(us) / 1000.0; }

std::vector<std::string> targets_of(const StageSettings& settings) {
  std::vector<std::string> targets;
  for (const auto& room : settings.mix.rooms)
    targets.push_back(settings.path.empty() ? "/v1/rooms/" + room.id + "/mic-queue" : settings.path);
  return targets;
}

http::ClientOptions client_options(const std::string& token) {
  http::ClientOptions options;
  options.max_connections = 8192;
  options.max_idle = 2048;
  if (!token.empty()) options.headers.emplace_back("Authorization", "Bearer " + token);
  return options;
}

// Runs the polls, then sets `done` and wakes the progress printer.
asio::awaitable<void> poll_then_stop(http::ClientPool& serve, const Endpoints& endpoints, OpenLoopPlan plan,
                                     std::shared_ptr<SpreadResults> load, bool& done,
                                     asio::steady_timer& tick) {
  auto run = run_spread_load(serve, endpoints.serve, client_options(""), std::move(plan), std::move(load));
  co_await std::move(run);
  done = true;
  tick.cancel();
}

// Prints where the stage is every 2 s until `done` is set (its timer is
// then cancelled, so it ends at once).
asio::awaitable<void> show_progress(bool enabled, const std::string& name, const SpreadResults& load,
                                    const EventCounters& events, Clock::time_point start,
                                    std::chrono::milliseconds duration, asio::steady_timer& tick,
                                    const bool& done) {
  while (enabled && !done) {
    tick.expires_after(2s);
    co_await tick.async_wait(use_tuple);
    if (done) break;
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    SpreadTotals now = count(load);
    std::fprintf(stderr,
                 "  %-24s %5.1f / %.0f s  sent %llu  ok %llu  errors %llu  in flight %llu  events %llu\n",
                 name.c_str(), elapsed, std::chrono::duration<double>(duration).count(),
                 static_cast<unsigned long long>(now.scheduled), static_cast<unsigned long long>(now.ok),
                 static_cast<unsigned long long>(now.errors), static_cast<unsigned long long>(now.in_flight),
                 static_cast<unsigned long long>(events.applied));
  }
}

// A probe: one instance's hot-room list polled directly, evenly spaced,
// its answers' versions going to the staleness tracker as that
// instance's (observer `index`).
struct Probe {
  Probe(const asio::any_io_executor& executor, http::Upstream instance) : pool(executor, instance) {}
  http::ClientPool pool;
  RoomMix mix;
  OpenLoopPlan plan;
  OpenLoopResult result;
};

std::unique_ptr<Probe> make_probe(const asio::any_io_executor& executor, http::Upstream instance,
                                  std::size_t index, const StageSettings& settings,
                                  std::shared_ptr<StalenessTracker> staleness) {
  auto probe = std::make_unique<Probe>(executor, instance);
  probe->mix.rooms = {settings.mix.rooms.at(0)};
  probe->mix.rooms[0].viewers = 1;
  probe->mix.poll_seconds = 1.0 / settings.probe_per_second;
  probe->plan.mix = &probe->mix;
  probe->plan.targets = {"/v1/rooms/" + probe->mix.rooms[0].id + "/mic-queue"};
  probe->plan.arrivals = loadgen::ArrivalSchedule::Kind::kEven;
  probe->plan.conditional = true;  // a 304 shows nothing new, and costs serve what a viewer's does
  probe->plan.duration = settings.duration;
  probe->plan.seed = settings.seed + 400 + index;
  probe->plan.on_answer = [staleness, index](std::size_t, http::ClientResponse& answer,
                                             Clock::time_point at) {
    if (answer.result_int() != 200 || !staleness->waiting_on(0, index)) return;
    if (auto version = json_int_field(answer.body(), "version")) staleness->seen(0, *version, at, index);
  };
  return probe;
}

// Runs every probe together on this coroutine's executor; completes when
// all have.
asio::awaitable<void> run_probes(std::vector<std::unique_ptr<Probe>>& probes) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer all_done(executor, asio::steady_timer::time_point::max());
  std::size_t running = probes.size();
  for (auto& probe : probes) {
    asio::co_spawn(executor, run_open_loop(probe->pool, probe->plan, probe->result),
                   [&running, &all_done](const std::exception_ptr&) {
                     if (--running == 0) all_done.cancel();
                   });
  }
  while (running > 0) co_await all_done.async_wait(use_tuple);
}

MetricsPools metrics_pools(const asio::any_io_executor& executor, const Endpoints& endpoints) {
  MetricsPools pools;
  if (endpoints.serve_instances.empty())
    pools.push_back(std::make_unique<http::ClientPool>(executor, endpoints.serve, client_options("")));
  for (const auto& instance : endpoints.serve_instances)
    pools.push_back(std::make_unique<http::ClientPool>(executor, instance, client_options("")));
  return pools;
}

}  // namespace

asio::awaitable<std::string> seed_rooms(Endpoints endpoints, const RoomMix& mix, int members_cap,
                                        const RoomMembers* hot_room_members) {
  auto executor = co_await asio::this_coro::executor;
  http::ClientPool serve(executor, endpoints.events_to.value_or(endpoints.serve),
                         client_options(endpoints.events_token));
  std::uint64_t seed = 11;
  for (std::size_t r = 0; r < mix.rooms.size(); ++r) {
    const Room& room = mix.rooms[r];
    std::vector<std::string> bodies;
    if (r == 0 && hot_room_members) {
      bodies = hot_room_members->opening_events();
    } else {
      bodies.push_back(seeding_body(std::max(1, std::min(room.viewers, members_cap)), ++seed));
    }
    for (auto& body : bodies) {
      auto call = serve.request(http::Method::post, "/v1/rooms/" + room.id + "/events", std::move(body), 10s);
      auto reply = co_await std::move(call);
      if (!reply) co_return "seeding room " + room.id + ": " + reply.error().message();
      if (reply->result_int() != 200)
        co_return "seeding room " + room.id + ": HTTP " + std::to_string(reply->result_int()) + " " +
            reply->body();
    }
  }
  co_return std::string();
}

asio::awaitable<StageResult> run_stage(Endpoints endpoints, StageSpec spec, const StageSettings& settings) {
  auto executor = co_await asio::this_coro::executor;
  http::ClientPool serve(executor, endpoints.serve, client_options(""));
  http::ClientPool serve_events(executor, endpoints.events_to.value_or(endpoints.serve),
                                client_options(endpoints.events_token));
  std::optional<http::ClientPool> aggregator;
  if (endpoints.aggregator) aggregator.emplace(executor, *endpoints.aggregator, client_options(""));
  std::optional<http::ClientPool> sim;
  if (endpoints.sim) sim.emplace(executor, *endpoints.sim, client_options(""));

  OpenLoopPlan plan;
  plan.mix = &settings.mix;
  plan.targets = targets_of(settings);
  plan.arrivals = settings.arrivals;
  plan.seed = settings.seed;
  plan.conditional = spec.conditional.value_or(settings.conditional);
  EventPlan events;
  events.mix = &settings.mix;
  events.rates = endpoints.events_token.empty() || !spec.with_events ? EventRates{} : settings.events;
  events.hot_room_members = settings.hot_room_members;
  if (settings.warmup.count() > 0) {
    // Connections opened, caches and branch predictors warm, and with
    // events_in_warmup the room's events under way; not measured.
    plan.duration = settings.warmup;
    auto warmup = std::make_shared<SpreadResults>(static_cast<std::size_t>(settings.threads));
    EventPlan warmup_events = events;
    if (!settings.events_in_warmup) warmup_events.rates = EventRates{};
    warmup_events.duration = settings.warmup;
    warmup_events.seed = settings.seed + 300;
    StalenessTracker unmeasured_staleness(settings.mix.rooms.size());
    EventCounters unmeasured_events;
    auto run = run_spread_load(serve, endpoints.serve, client_options(""), plan, warmup) &&
               run_event_stream(serve_events, sim ? &*sim : nullptr, warmup_events, unmeasured_staleness,
                                unmeasured_events);
    co_await std::move(run);
  }

  // Shared with the load threads' answer hook (and so alive as long as they are).
  const bool probed = !endpoints.staleness_from.empty();
  auto staleness = std::make_shared<StalenessTracker>(settings.mix.rooms.size(),
                                                      probed ? endpoints.staleness_from.size() : 1);
  plan.duration = settings.duration;
  plan.seed = settings.seed + 100;
  if (!probed) {
    plan.on_answer = [staleness](std::size_t room, http::ClientResponse& answer, Clock::time_point at) {
      if (answer.result_int() != 200 || !staleness->waiting_on(room)) return;
      if (auto version = json_int_field(answer.body(), "version")) staleness->seen(room, *version, at);
    };
  }
  std::vector<std::unique_ptr<Probe>> probes;
  for (std::size_t k = 0; k < endpoints.staleness_from.size(); ++k)
    probes.push_back(make_probe(executor, endpoints.staleness_from[k], k, settings, staleness));
  events.duration = settings.duration;
  events.seed = settings.seed + 200;

  MetricsPools serve_metrics = metrics_pools(executor, endpoints);
  auto first = take_snapshot(endpoints, aggregator ? &*aggregator : nullptr, serve_metrics);
  Snapshot before = co_await std::move(first);
  auto load = std::make_shared<SpreadResults>(static_cast<std::size_t>(settings.threads));
  EventCounters event_counts;
  ServeCounters half_way;
  asio::steady_timer tick(executor);
  bool done = false;
  auto start = Clock::now();
  auto together =
      poll_then_stop(serve, endpoints, plan, load, done, tick) &&
      run_event_stream(serve_events, sim ? &*sim : nullptr, events, *staleness, event_counts) &&
      read_serve_counters_at(serve_metrics, start + settings.duration / 2, half_way) && run_probes(probes) &&
      show_progress(settings.progress, spec.name, *load, event_counts, start, settings.duration, tick, done);
  co_await std::move(together);
  auto second = take_snapshot(endpoints, aggregator ? &*aggregator : nullptr, serve_metrics);
  Snapshot after = co_await std::move(second);

  StageResult result;
  result.name = spec.name;
  result.strategy = spec.strategy;
  result.json = spec.json;
  result.page_size = spec.page_size;
  result.with_events = spec.with_events;
  for (const auto& probe : probes) {
    result.probe_requests += probe->result.ok + probe->result.errors;
    result.probe_errors += probe->result.errors;
  }
  result.redis_commands = delta(before.redis_commands, after.redis_commands);
  // Rates are over the sending window (draining the last answers is not
  // time the load was offered in).
  result.seconds = std::chrono::duration<double>(settings.duration).count();
  result.offered_per_second = settings.mix.rate_per_second();
  SpreadTotals totals = merge(*load);
  result.scheduled = totals.scheduled;
  result.ok = totals.ok;
  result.not_modified = totals.not_modified;
  result.errors = totals.errors;
  result.error_kinds.assign(totals.error_kinds.begin(), totals.error_kinds.end());
  result.p50_ms = ms(totals.latency.percentile(0.5));
  result.p99_ms = ms(totals.latency.percentile(0.99));
  result.p999_ms = ms(totals.latency.percentile(0.999));
  result.max_ms = ms(totals.latency.max());
  result.aggregator_batches = delta(before.batches, after.batches);
  result.downstream_requests = delta(before.downstream, after.downstream);
  result.new_user_batches = delta(before.serve.new_user_batches, after.serve.new_user_batches);
  result.other_privilege_batches =
      delta(before.serve.other_privilege_batches, after.serve.other_privilege_batches);
  result.load_waits = delta(before.serve.load_waits, after.serve.load_waits);
  result.load_waits_last_half = delta(half_way.load_waits, after.serve.load_waits);
  for (std::size_t p = 0; p < kProcessCount; ++p) {
    if (before.cpu[p] && after.cpu[p]) result.cpu_seconds[p] = *after.cpu[p] - *before.cpu[p];
  }
  result.events_sent = event_counts.sent;
  result.events_applied = event_counts.applied;
  result.events_failed = event_counts.failed;
  result.bumps = event_counts.bumps;
  auto all = staleness->all();
  auto hot = staleness->hot_room();
  result.staleness_samples = all.count();
  result.staleness_unseen = staleness->unseen();
  result.staleness_p50_ms = ms(all.percentile(0.5));
  result.staleness_p99_ms = ms(all.percentile(0.99));
  result.staleness_max_ms = ms(all.max());
  result.hot_staleness_p50_ms = ms(hot.percentile(0.5));
  result.hot_staleness_p99_ms = ms(hot.percentile(0.99));
  co_return result;
}

}  // namespace micq::bench
