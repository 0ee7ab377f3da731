#include "bench_command.h"

#include <signal.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/this_coro.hpp>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "fleet.h"
#include "fleet_report.h"
#include "hot_room.h"
#include "micq/redis/client.h"
#include "micq/service/flag_checks.h"
#include "micq/service/ids.h"
#include "micq/service/kinds.h"
#include "micq/service/serve_modes.h"
#include "micq/stack/commands.h"
#include "micq/stack/stack.h"
#include "proc_stats.h"
#include "spread_load.h"
#include "stage.h"

namespace micq::bench {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

enum class Scenario { kDefault, kArticle, kSingle, kHotRoom, kFleet, kTarget };

// kDefault (the flag left out, or empty) is article, or target with --serve.
constexpr std::array<service::Named<Scenario>, 6> kScenarioNames = {{{"", Scenario::kDefault},
                                                                     {"article", Scenario::kArticle},
                                                                     {"single", Scenario::kSingle},
                                                                     {"hot-room", Scenario::kHotRoom},
                                                                     {"fleet", Scenario::kFleet},
                                                                     {"target", Scenario::kTarget}}};

constexpr std::array<service::Named<loadgen::ArrivalSchedule::Kind>, 2> kArrivalNames = {
    {{"poisson", loadgen::ArrivalSchedule::Kind::kPoisson}, {"even", loadgen::ArrivalSchedule::Kind::kEven}}};

struct Flags {
  Scenario scenario = Scenario::kDefault;
  // Which flags were given (on the command line or in the environment):
  // hot-room has its own defaults for the others.
  struct Given {
    bool hot_viewers = false, rooms = false, events = false, conditional = false;
  } given;
  // fleet: the instance counts measured, and each staleness probe's rate.
  std::string instances = std::string(kDefaultFleetSizes);
  std::vector<int> fleet_sizes;  // parsed from `instances`
  double probe_per_second = 100;
  // An already running stack.
  std::string serve;
  std::string aggregator;
  std::string sim;
  std::string redis;
  std::string events_token;
  // Load.
  std::string room = "bench";
  // Defaults sized so the article's "before" (about 10 ms of CPU per request
  // over all processes) keeps up on a 2-core machine: 100 requests/s.
  int hot_viewers = 240;
  int rooms = 5;
  int room_viewers = 12;
  double poll_seconds = 3;
  loadgen::ArrivalSchedule::Kind arrivals = loadgen::ArrivalSchedule::Kind::kPoisson;
  // About 1% of the first stage's requests (hot-room: kHotRoomEventRates).
  std::string events = "gift=0.4,chat=0.2,enter=0.1,exit=0.1,share=0.1,privilege=0.2";
  double events_scale = 1;  // every event rate times this
  double duration_s = 30;
  double warmup_s = 3;
  std::string path;
  bool conditional = false;
  int threads = 1;
  // The stack bench starts.
  service::Strategy strategy = service::Strategy::kCached;
  service::JsonEngine json = service::JsonEngine::kFast;
  int page_size = 10;
  int ttl_ms = 1000;
  int rebuild_interval_ms = 50;  // hot-room: serve's --rebuild-interval-ms
  std::string kinds = "24";
  int payload_bytes = 1024;
  double sim_latency_ms = 5;
  double sim_jitter_ms = 5;
  // Sizing and output.
  // Stages after the article's first run with every room's viewers times
  // this: the "before" cannot go faster on one machine, the others can get
  // closer to the target's per-room rate (events keep their rates).
  double scale_after = 10;
  std::string target = "1000x10000";
  double cores_per_machine = 16;
  double utilization = 0.6;
  std::string out_dir = "bench-results";
};

std::string utc_now(const char* format) {
  std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[64];
  std::strftime(text, sizeof text, format, &parts);
  return text;
}

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

// The hot room opens with one member per viewer, at most this many.
constexpr int kMaxOpeningMembers = 100'000;

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1";
}

// A stage serve runs with only the usual flags, with events. The direct
// strategy is the write-up's "before", which had no bound on builds: it
// gets one high enough never to shed (an answer shed costs less than the
// work, which would flatter it).
StageSpec stage_spec(std::string name, service::Strategy strategy, service::JsonEngine json, int page_size) {
  StageSpec stage;
  stage.name = std::move(name);
  stage.strategy = std::string(service::name_of(service::kStrategyNames, strategy));
  stage.json = std::string(service::name_of(service::kJsonNames, json));
  stage.page_size = page_size;
  if (strategy == service::Strategy::kDirect)
    stage.serve_flags = {"--max-builds", "100000", "--max-batches", "100000"};
  return stage;
}

// hot-room's stages: the same polls without events, with events, and with
// events on the design micq replaces (singleflight + TTL cache, events
// touching no cached page, no per-user record cache). With If-None-Match,
// a last one without events or If-None-Match: a room with events changes
// its body (its version at least) at every rebuild, so its polls get
// bodies where a quiet room's get 304s; this stage is what sending every
// body costs, to tell the events' own cost from the bytes'.
std::vector<StageSpec> hot_room_stages(const Flags& flags, double events_per_second) {
  char rate[32];
  std::snprintf(rate, sizeof rate, "%g events/s", events_per_second);
  StageSpec baseline =
      stage_spec("cached, no events", service::Strategy::kCached, flags.json, flags.page_size);
  baseline.serve_flags = {"--rebuild-interval-ms", std::to_string(flags.rebuild_interval_ms)};
  baseline.with_events = false;
  StageSpec with_events = baseline;
  with_events.name = std::string("cached, ") + rate;
  with_events.with_events = true;
  // Serve's flag for the design micq replaces: events touch no cached page.
  StageSpec plain_ttl = with_events;
  plain_ttl.name = std::string("plain TTL, ") + rate;
  plain_ttl.serve_flags.insert(plain_ttl.serve_flags.begin(), {"--live-rooms", "off"});
  if (!flags.conditional) return {baseline, with_events, plain_ttl};
  StageSpec bodies = baseline;
  bodies.name = "cached, no events, no If-None-Match";
  bodies.conditional = false;
  return {baseline, with_events, plain_ttl, bodies};
}

// The stages of a scenario that starts its own stack.
std::vector<StageSpec> stages_of(const Flags& flags, double events_per_second) {
  using service::JsonEngine;
  using service::Strategy;
  if (flags.scenario == Scenario::kArticle) {
    return {stage_spec("direct+baseline+20", Strategy::kDirect, JsonEngine::kBaseline, 20),
            stage_spec("singleflight+fast+10", Strategy::kSingleflight, JsonEngine::kFast, 10),
            stage_spec("cached+fast+10", Strategy::kCached, JsonEngine::kFast, 10)};
  }
  if (flags.scenario == Scenario::kHotRoom) return hot_room_stages(flags, events_per_second);
  StageSpec single = stage_spec("", flags.strategy, flags.json, flags.page_size);
  single.name = single.strategy + "+" + single.json + "+" + std::to_string(flags.page_size);
  return {single};
}

// Command lines (stack/commands.h), made by functions so a co_await expression
// may take them: g++ 12 rejects a braced list inside one (PR 103871, docs/design.md).
std::vector<std::string> sim_args(const Flags& f) {
  return stack::sim_command(
      f.kinds, {"--latency-ms", fixed(f.sim_latency_ms, 3), "--jitter-ms", fixed(f.sim_jitter_ms, 3),
                "--payload-bytes", std::to_string(f.payload_bytes)});
}
std::vector<std::string> serve_args(const Flags& f, const StageSpec& stage, const std::string& redis,
                                    int aggregator_port, const std::string& token) {
  std::vector<std::string> flags = {"--strategy",  stage.strategy,                   //
                                    "--json",      stage.json,                       //
                                    "--page-size", std::to_string(stage.page_size),  //
                                    "--ttl-ms",    std::to_string(f.ttl_ms)};
  flags.insert(flags.end(), stage.serve_flags.begin(), stage.serve_flags.end());
  return stack::serve_command({.redis = redis, .aggregator_port = aggregator_port, .events_token = token},
                              flags);
}

// The rooms with every room's viewers times `scale`.
RoomMix mix_of(const Flags& f, double scale) {
  auto scaled = [scale](int viewers) { return static_cast<int>(std::lround(viewers * scale)); };
  return RoomMix::hot_and_small(f.room, scaled(f.hot_viewers), f.rooms, scaled(f.room_viewers),
                                f.poll_seconds);
}

std::vector<pid_t> pid_of(stack::Stack& stack, const std::string& name) {
  auto* child = stack.find(name);
  if (!child) return {};
  return {child->pid()};
}

// A fleet's processes for `instances` serve instances: the hot-room's
// serve (cached, --rebuild-interval-ms) sharing through the cluster (--l2 on).
FleetPlan fleet_plan(const Flags& f, int instances, const std::string& token) {
  FleetPlan plan;
  plan.instances = instances;
  plan.sim_args = sim_args(f);
  plan.kinds = f.kinds;
  plan.serve_flags = {"--strategy",
                      "cached",
                      "--json",
                      std::string(service::name_of(service::kJsonNames, f.json)),
                      "--page-size",
                      std::to_string(f.page_size),
                      "--ttl-ms",
                      std::to_string(f.ttl_ms),
                      "--rebuild-interval-ms",
                      std::to_string(f.rebuild_interval_ms),
                      "--l2",
                      "on"};
  plan.events_token = token;
  return plan;
}

class Bench {
 public:
  Bench(asio::io_context& ioc, Flags flags, StageSettings settings, Report report)
      : ioc_(ioc),
        flags_(std::move(flags)),
        settings_(std::move(settings)),
        report_(std::move(report)),
        stack_(ioc, stack::Child::Output::kQuiet) {}

  int exit_code() const { return exit_code_; }
  stack::Stack& stack() { return stack_; }

  asio::awaitable<void> run() {
    bool ok = false;
    if (!flags_.serve.empty()) {
      ok = co_await run_given_stack();
    } else if (flags_.scenario == Scenario::kFleet) {
      ok = co_await run_fleets();
    } else {
      ok = co_await run_own_stack();
    }
    if (ok) finish();
    auto stopping = stack_.stop_all(5s);
    co_await std::move(stopping);
    ioc_.stop();
  }

 private:
  void say(const std::string& text) {
    std::fprintf(stderr, "micq bench: %s\n", text.c_str());
    std::fflush(stderr);
  }

  asio::awaitable<bool> run_own_stack() {
    say("starting redis-server, sim and aggregator");
    auto redis = co_await stack_.start_private_redis();
    if (!redis) co_return fail("the stack did not start");
    int sim = co_await stack_.start_micq("sim", sim_args(flags_));
    if (!sim) co_return fail("the stack did not start");
    int aggregator = co_await stack_.start_micq("aggregator", stack::aggregator_command(flags_.kinds, sim));
    if (!aggregator) co_return fail("the stack did not start");
    std::string token = stack::random_hex(16);
    bool seeded = false;
    int stage_index = 0;
    for (const auto& stage : stages_of(flags_, settings_.events.total())) {
      int serve = co_await stack_.start_micq("serve", serve_args(flags_, stage, *redis, aggregator, token));
      if (!serve) co_return fail("serve did not start");
      Endpoints endpoints;
      endpoints.serve = {"127.0.0.1", static_cast<std::uint16_t>(serve)};
      endpoints.aggregator = http::Upstream{"127.0.0.1", static_cast<std::uint16_t>(aggregator)};
      endpoints.sim = http::Upstream{"127.0.0.1", static_cast<std::uint16_t>(sim)};
      endpoints.events_token = token;
      const char* names[] = {"serve", "aggregator", "sim", "redis"};
      for (std::size_t p = 0; p < 4; ++p) endpoints.pids[p] = pid_of(stack_, names[p]);
      if (auto node = redis::parse_endpoint(*redis)) endpoints.redis_nodes.push_back(*node);
      if (!seeded) {
        auto seeding = seed_rooms(endpoints, settings_.mix, 100, settings_.hot_room_members);
        auto error = co_await std::move(seeding);
        if (!error.empty()) co_return fail(error);
        seeded = true;
      }
      StageSettings settings = settings_;
      // Only the article's later stages go faster; hot-room's compare the same polls.
      double scale = stage_index++ == 0 || flags_.scenario != Scenario::kArticle ? 1.0 : flags_.scale_after;
      settings.mix = mix_of(flags_, scale);
      say("stage " + stage.name + ": " + fixed(settings.mix.rate_per_second(), 0) + " requests/s for " +
          fixed(std::chrono::duration<double>(settings.duration).count(), 0) + " s after " +
          fixed(std::chrono::duration<double>(settings.warmup).count(), 0) + " s warm-up");
      auto running = run_stage(endpoints, stage, settings);
      report_.stages.push_back(co_await std::move(running));
      if (!stage.with_events && stage.conditional == false)
        report_.bodies_reference = report_.stages.size() - 1;
      auto stopping = stack_.stop("serve", 5s);
      co_await std::move(stopping);
    }
    co_return true;
  }

  // --scenario fleet: for each N a fresh fleet (cluster, sim, aggregator,
  // N serves, haproxy), the hot room opened the same way, its polls without
  // and with events; then everything of that N is stopped.
  asio::awaitable<bool> run_fleets() {
    std::string token = stack::random_hex(16);
    const RoomMembers::Options crowd = settings_.hot_room_members->options();
    for (int instances : flags_.fleet_sizes) {
      say("starting a fleet of " + std::to_string(instances) +
          " serve instance(s) behind haproxy on a 3-node Redis Cluster");
      const std::size_t first_child = stack_.children().size();
      auto starting = start_fleet(stack_, fleet_plan(flags_, instances, token));
      auto fleet = co_await std::move(starting);
      if (!fleet) co_return fail(fleet.error());
      RoomMembers members(crowd);  // each N opens and runs the same room
      StageSettings settings = settings_;
      settings.hot_room_members = &members;
      auto seeding = seed_rooms(*fleet, settings.mix, 100, &members);
      auto error = co_await std::move(seeding);
      if (!error.empty()) co_return fail(error);
      for (const auto& stage : fleet_stages(instances, settings.events.total())) {
        say("stage " + stage.name + ": " + fixed(settings.mix.rate_per_second(), 0) +
            " requests/s via haproxy, " + fixed(settings.probe_per_second, 0) +
            "/s staleness probes per instance read, for " +
            fixed(std::chrono::duration<double>(settings.duration).count(), 0) + " s");
        auto running = run_stage(*fleet, stage, settings);
        StageResult result = co_await std::move(running);
        result.instances = instances;
        report_.stages.push_back(std::move(result));
      }
      auto stopping = stack_.stop_started_since(first_child, 5s);
      co_await std::move(stopping);
    }
    co_return true;
  }

  asio::awaitable<bool> run_given_stack() {
    Endpoints endpoints;
    auto serve = http::parse_upstream(flags_.serve);
    endpoints.serve = *serve;  // validated before the run
    if (!flags_.aggregator.empty()) endpoints.aggregator = *http::parse_upstream(flags_.aggregator);
    if (!flags_.sim.empty()) endpoints.sim = *http::parse_upstream(flags_.sim);
    endpoints.events_token = flags_.events_token;
    // CPU is read for processes on this machine, found by the port they listen on.
    auto local_pid = [](const std::optional<http::Upstream>& at) -> std::vector<pid_t> {
      if (!at || !is_loopback(at->host)) return {};
      auto pid = pid_listening_on(at->port);
      if (!pid) return {};
      return {*pid};
    };
    endpoints.pids[0] = local_pid(endpoints.serve);
    endpoints.pids[1] = local_pid(endpoints.aggregator);
    endpoints.pids[2] = local_pid(endpoints.sim);
    if (!flags_.redis.empty()) {
      auto redis = redis::parse_endpoint(flags_.redis);
      if (redis && is_loopback(redis->host)) {
        if (auto pid = pid_listening_on(redis->port)) endpoints.pids[3] = {*pid};
      }
      if (redis) endpoints.redis_nodes.push_back(*redis);
    }
    if (endpoints.events_token.empty() && settings_.events.total() > 0 && flags_.path.empty())
      say("no --events-token: sending no events, so staleness is not measured");
    if (!endpoints.events_token.empty() && flags_.path.empty()) {
      auto seeding = seed_rooms(endpoints, settings_.mix, 100);
      auto error = co_await std::move(seeding);
      if (!error.empty()) co_return fail(error);
    }
    StageSpec stage;
    stage.name = "target";
    auto running = run_stage(endpoints, stage, settings_);
    report_.stages.push_back(co_await std::move(running));
    co_return true;
  }

  bool fail(const std::string& why) {
    say(why);
    exit_code_ = 1;
    return false;
  }

  void finish() {
    if (flags_.scenario == Scenario::kFleet) {
      print_fleet_table(report_, stdout);
    } else {
      print_table(report_, stdout);
    }
    std::fflush(stdout);
    std::error_code ec;
    std::filesystem::create_directories(flags_.out_dir, ec);
    std::string stem = flags_.out_dir + "/" + report_.scenario + "-" + utc_now("%Y%m%d-%H%M%S");
    std::ofstream(stem + ".json") << to_json(report_);
    std::ofstream(stem + ".svg") << to_svg(report_);
    if (!std::filesystem::exists(stem + ".json")) {
      say("cannot write " + stem + ".json");
      exit_code_ = 1;
    } else {
      std::printf("\nresults: %s.json, chart: %s.svg\n", stem.c_str(), stem.c_str());
    }
    std::uint64_t errors = 0;
    for (const auto& stage : report_.stages) {
      errors += stage.errors;
      // An overloaded stage's cost per request is still measured, but its
      // latency is the queue's: say so rather than let it pass as a result.
      if (stage.errors > 0 || stage.achieved_per_second() < 0.95 * stage.offered_per_second ||
          stage.p99_ms > 1000)
        say("stage " + stage.name + " did not keep up with the offered load (p99 " + fixed(stage.p99_ms, 0) +
            " ms); lower --hot-viewers / --rooms for a fair comparison");
    }
    if (errors > 0) {
      say(std::to_string(errors) + " requests failed (see the errors row)");
      exit_code_ = 1;
    }
  }

  asio::io_context& ioc_;
  const Flags flags_;
  const StageSettings settings_;
  Report report_;
  stack::Stack stack_;
  int exit_code_ = 0;
};

// The checks of flags against each other, after each flag's own check (at
// its definition): why they do not go together, or empty.
std::string validate_together(const Flags& flags) {
  const std::string scenario(service::name_of(kScenarioNames, flags.scenario));
  if (!flags.serve.empty() && flags.scenario != Scenario::kTarget)
    return "--serve measures a running stack; it does not go with --scenario " + scenario;
  if (flags.scenario == Scenario::kTarget && flags.serve.empty()) return "--scenario target needs --serve";
  if (flags.scenario == Scenario::kFleet) {
    if (!flags.path.empty()) return "--path does not go with --scenario fleet";
  }
  return {};
}

// What the scenario implies: fleet's instance counts, and hot-room's (and
// fleet's) own defaults for the flags not given.
void apply_scenario(Flags& flags) {
  if (flags.scenario == Scenario::kFleet) flags.fleet_sizes = *parse_fleet_sizes(flags.instances);
  // fleet runs the hot room on several instances.
  if (flags.scenario == Scenario::kHotRoom || flags.scenario == Scenario::kFleet) {
    // One busy room as it really is (SPEC §6), unless told otherwise.
    if (!flags.given.hot_viewers) flags.hot_viewers = 10'000;
    if (!flags.given.rooms) flags.rooms = 0;
    if (!flags.given.events) flags.events = std::string(kHotRoomEventRates);
    // Real clients send If-None-Match; --conditional off (every answer a
    // whole body) isolates what events cost in loads from what they cost
    // in bytes.
    if (!flags.given.conditional) flags.conditional = true;
  }
}

int run(Flags flags) {
  const char* name = "bench";
  // No --scenario: article, or target with --serve.
  if (flags.scenario == Scenario::kDefault)
    flags.scenario = flags.serve.empty() ? Scenario::kArticle : Scenario::kTarget;
  if (std::string why = validate_together(flags); !why.empty()) return service::fail_usage(name, why);
  apply_scenario(flags);
  const bool hot_room = flags.scenario == Scenario::kHotRoom;
  const bool fleet = flags.scenario == Scenario::kFleet;
  // Each parse below succeeds: the flag's check at its definition made it
  // (hot-room's default events are kHotRoomEventRates).
  auto events = *EventRates::parse(flags.events);
  for (double& rate : events.per_second) rate *= flags.events_scale;
  auto target = *TargetLoad::parse(flags.target, flags.poll_seconds);

  StageSettings settings;
  settings.mix = mix_of(flags, 1.0);
  settings.arrivals = flags.arrivals;
  settings.events = events;
  settings.duration = std::chrono::milliseconds(static_cast<std::int64_t>(flags.duration_s * 1000));
  settings.warmup = std::chrono::milliseconds(static_cast<std::int64_t>(flags.warmup_s * 1000));
  settings.path = flags.path;
  settings.conditional = flags.conditional;
  settings.threads = flags.threads;
  settings.probe_per_second = flags.probe_per_second;
  // The hot room's crowd: everyone watching has entered (up to a bound, so
  // opening a huge room stays quick); it lives as long as the run.
  std::optional<RoomMembers> hot_room_members;
  if (hot_room || fleet) {
    RoomMembers::Options crowd;
    crowd.initial_members = std::min(flags.hot_viewers, kMaxOpeningMembers);
    crowd.seed = 17;
    hot_room_members.emplace(crowd);
    settings.hot_room_members = &*hot_room_members;
    settings.events_in_warmup = true;
  }

  Report report;
  report.scenario = std::string(service::name_of(kScenarioNames, flags.scenario));
  report.started_at = utc_now("%Y-%m-%dT%H:%M:%SZ");
  report.machine = describe_machine();
  report.room_mix = "1 room x " + std::to_string(flags.hot_viewers) + " viewers + " +
                    std::to_string(flags.rooms) + " rooms x " + std::to_string(flags.room_viewers) +
                    ", polling every " + fixed(flags.poll_seconds, 1) + " s (" +
                    std::string(service::name_of(kArrivalNames, flags.arrivals)) + ", " +
                    fixed(settings.mix.rate_per_second(), 0) + " requests/s" +
                    (settings.conditional ? ", If-None-Match" : "") + ")" +
                    (flags.scenario == Scenario::kArticle && flags.scale_after != 1
                         ? "; viewers x" + fixed(flags.scale_after, 0) + " after the first stage"
                         : "");
  report.events = flags.path.empty() ? settings.events.to_string() + " per s" : "none";
  if ((hot_room || fleet) && flags.path.empty()) {
    const auto& crowd = hot_room_members->options();
    report.events += " (not in the stages named \"no events\"), also in the warm-ups; the room opens with " +
                     std::to_string(crowd.initial_members) + " members, enters bring new ones, " +
                     fixed(crowd.core_gift_share * 100, 0) + "% of gifts from its " +
                     std::to_string(crowd.core_size) + " top supporters";
  }
  report.events_vs_no_events = hot_room;
  report.stack =
      flags.serve.empty()
          ? flags.kinds + " kinds x " + std::to_string(flags.payload_bytes) + " B, sim latency " +
                fixed(flags.sim_latency_ms, 1) + " ms +- " + fixed(flags.sim_jitter_ms, 1) + " ms, ttl " +
                std::to_string(flags.ttl_ms) + " ms" +
                (hot_room || fleet ? ", rebuild interval " + std::to_string(flags.rebuild_interval_ms) + " ms"
                                   : "") +
                (fleet ? "; fleet: serve --l2 on --redis-cluster (3 masters) behind haproxy, events to "
                         "instance 0, "
                         "staleness read from the others by probes of " +
                             fixed(flags.probe_per_second, 0) + " polls/s each"
                       : "")
          : "given: " + flags.serve;
  report.duration_s = flags.duration_s;
  report.warmup_s = flags.warmup_s;
  report.target = target;
  report.sizing = {flags.cores_per_machine, flags.utilization};

  asio::io_context ioc(1);
  Bench bench(ioc, flags, settings, report);
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  bool interrupted = false;
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    interrupted = true;
    std::fprintf(stderr, "micq bench: interrupted; stopping what I started\n");
    asio::co_spawn(ioc, bench.stack().stop_all(3s), [&](const std::exception_ptr&) { ioc.stop(); });
  });
  asio::co_spawn(ioc, bench.run(), [&](const std::exception_ptr& error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "micq bench: %s\n", e.what());
    }
    ioc.stop();
  });
  std::printf("micq bench: %s; %s\n", report.scenario.c_str(), report.room_mix.c_str());
  std::fflush(stdout);
  ioc.run();
  // Load threads of a stage cut short must not report into the io_context
  // while it is destroyed.
  stop_spread_loads();
  if (interrupted) return 130;
  return bench.exit_code();
}

}  // namespace

void add_command(CLI::App& app, service::Action& action) {
  using service::in_range;
  using service::more_than_at_most;
  auto flags = std::make_shared<Flags>();
  CLI::App* c = app.add_subcommand(
      "bench", "Open-loop load with events against micq serve, measured per strategy (SPEC §6).");
  service::add_choice(
      *c, "scenario", flags->scenario, kScenarioNames,
      "article: the write-up's before/after on a stack bench starts (default without --serve); "
      "single: one stage with --strategy/--json/--page-size; "
      "hot-room: one busy room without events, with events, and with events on a plain TTL cache; "
      "fleet: that room on N serve instances behind haproxy on a Redis Cluster, for each N of --instances",
      "must be article, single, hot-room or fleet (or leave it out with --serve)");
  auto url = service::or_empty(service::parsed_by(http::parse_upstream));
  service::add_flag(*c, "serve", flags->serve, "measure this running micq serve (base URL) instead")
      ->check(url);
  service::add_flag(*c, "instances", flags->instances,
                    "fleet: the serve instance counts to measure, a comma list (default " +
                        std::string(kDefaultFleetSizes) + ")")
      ->check(service::parsed_by(parse_fleet_sizes));
  service::add_flag(*c, "probe-per-second", flags->probe_per_second,
                    "fleet: polls per second sent straight to each instance staleness is read from")
      ->check(service::in_range(1.0, 10'000.0));
  service::add_flag(*c, "aggregator", flags->aggregator,
                    "with --serve: the aggregator's base URL, for /stats")
      ->check(url);
  service::add_flag(*c, "sim", flags->sim, "with --serve: the sim's base URL, for privilege bumps")
      ->check(url);
  service::add_flag(*c, "redis", flags->redis, "with --serve: Redis host:port, to charge its CPU")
      ->check(service::or_empty(service::parsed_by(redis::parse_endpoint)));
  service::add_flag(*c, "events-token", flags->events_token, "with --serve: serve's events token");
  service::add_flag(*c, "room", flags->room, "room name prefix: <room>-hot and <room>-small-<i>")
      ->check(service::satisfying(
          [](const std::string& room) {
            return service::is_valid_id(room) && service::is_valid_id(room + "-small-1");
          },
          "must be a room id of at most 50 characters of [A-Za-z0-9_.-]"));
  auto* hot_viewers =
      service::add_flag(*c, "hot-viewers", flags->hot_viewers, "viewers of the hot room (hot-room: 10000)")
          ->check(in_range(1, 10'000'000));
  auto* rooms = service::add_flag(*c, "rooms", flags->rooms, "small rooms besides the hot one (hot-room: 0)")
                    ->check(in_range(0, 100'000));
  service::add_flag(*c, "room-viewers", flags->room_viewers, "viewers of each small room")
      ->check(in_range(1, 10'000'000));
  service::add_flag(*c, "poll-seconds", flags->poll_seconds, "how often each viewer polls")
      ->check(more_than_at_most(0, 3600));
  service::add_choice(*c, "arrivals", flags->arrivals, kArrivalNames, "poisson or even");
  auto* events =
      service::add_flag(
          *c, "events", flags->events,
          "events per second by type (enter, exit, gift, chat, share, privilege), or none (hot-room: " +
              std::string(kHotRoomEventRates) + ")")
          ->check(service::parsed_by(EventRates::parse));
  service::add_flag(*c, "events-scale", flags->events_scale, "every event rate times this")
      ->check(more_than_at_most(0, 1000));
  service::add_flag(*c, "duration-s", flags->duration_s, "measured seconds per stage")
      ->check(more_than_at_most(0, 86'400));
  service::add_flag(*c, "warmup-s", flags->warmup_s, "unmeasured load before each stage")
      ->check(in_range(0.0, 3600.0));
  service::add_flag(*c, "path", flags->path, "poll this path instead of the rooms' lists")
      ->check(service::satisfying([](const std::string& path) { return path.empty() || path.front() == '/'; },
                                  "must start with /"));
  service::add_flag(*c, "threads", flags->threads,
                    "load threads, each sending 1/threads of the rate on its own connections")
      ->check(in_range(1, 64));
  auto* conditional = service::add_choice(
      *c, "conditional", flags->conditional, service::kOnOff,
      "on: each viewer sends If-None-Match with the ETag of its last answer, as real clients do (hot-room: "
      "always on)");
  service::add_choice(*c, "strategy", flags->strategy, service::kStrategyNames,
                      "--scenario single: serve's strategy");
  service::add_choice(*c, "json", flags->json, service::kJsonNames,
                      "--scenario single or hot-room: serve's JSON library");
  service::add_flag(*c, "page-size", flags->page_size, "--scenario single or hot-room: serve's page size")
      ->check(in_range(1, 50));
  service::add_flag(*c, "ttl-ms", flags->ttl_ms, "serve's --ttl-ms")->check(in_range(1, 3'600'000));
  service::add_flag(*c, "rebuild-interval-ms", flags->rebuild_interval_ms,
                    "hot-room: serve's --rebuild-interval-ms (least time between two rebuilds events cause)")
      ->check(in_range(0, 60'000));
  service::add_flag(*c, "kinds", flags->kinds, "privilege kinds of the sim and aggregator")
      ->check(service::parsed_by(service::parse_kinds));
  service::add_flag(*c, "payload-bytes", flags->payload_bytes, "size of one user's record of one kind")
      ->check(in_range(64, 1'000'000));
  service::add_flag(*c, "sim-latency-ms", flags->sim_latency_ms, "median latency of a downstream call")
      ->check(in_range(0.0, 10'000.0));
  service::add_flag(*c, "sim-jitter-ms", flags->sim_jitter_ms, "spread of downstream latency")
      ->check(in_range(0.0, 10'000.0));
  service::add_flag(
      *c, "scale-after", flags->scale_after,
      "article: viewers x this for the stages after the first (the before is ~10 ms CPU/request)")
      ->check(more_than_at_most(0, 1000));
  service::add_flag(*c, "target", flags->target,
                    "load to size machines for: ROOMSxVIEWERS, each viewer polling every --poll-seconds")
      ->check(service::parsed_by([](std::string_view text) { return TargetLoad::parse(text, 1); }));
  service::add_flag(*c, "cores-per-machine", flags->cores_per_machine, "cores of one machine")
      ->check(in_range(1.0, 1024.0));
  service::add_flag(*c, "utilization", flags->utilization, "share of a machine's CPU planned for use")
      ->check(more_than_at_most(0, 1));
  service::add_flag(*c, "out-dir", flags->out_dir, "where <scenario>-<time>.json and .svg go");
  c->callback([flags, &action, hot_viewers, rooms, events, conditional] {
    flags->given = {hot_viewers->count() > 0, rooms->count() > 0, events->count() > 0,
                    conditional->count() > 0};
    action = [flags] { return run(*flags); };
  });
}

}  // namespace micq::bench
