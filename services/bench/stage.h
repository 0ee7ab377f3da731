// One measured stage of a bench run: warm up, take a snapshot of the
// aggregator's counters, serve's /metrics counters (summed over a fleet's
// instances), Redis's commands processed and every process's CPU time,
// run the polls and the event stream together for the stage's duration
// (reading serve's counters again half-way), take the snapshot again, and
// turn the differences into a StageResult.
#ifndef MICQ_BENCH_STAGE_H_
#define MICQ_BENCH_STAGE_H_

#include <sys/types.h>

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "event_stream.h"
#include "micq/http/client.h"
#include "micq/loadgen/arrival_schedule.h"
#include "micq/redis/reply.h"
#include "report.h"
#include "room_mix.h"

namespace micq::bench {

// Where the processes under test are.
struct Endpoints {
  http::Upstream serve;                      // where the polls go (haproxy, in front of a fleet)
  std::optional<http::Upstream> aggregator;  // for /stats
  std::optional<http::Upstream> sim;         // for bumps
  std::string events_token;                  // empty: no events
  std::optional<http::Upstream> events_to;   // where events (and seeding) go; unset: serve
  // The serve instances whose /metrics counters are summed; empty: serve.
  std::vector<http::Upstream> serve_instances;
  // When set, staleness is what these instances show, each read directly
  // by a probe (StageSettings::probe_per_second, the hot room only); the
  // polls' answers are not used for it.
  std::vector<http::Upstream> staleness_from;
  // Redis nodes whose INFO total_commands_processed is summed; empty: not measured.
  std::vector<redis::Endpoint> redis_nodes;
  // Per process (serve, aggregator, sim, redis; bench is this process) the
  // pids whose CPU is summed (a fleet's instances, a cluster's nodes);
  // empty: not measured.
  std::vector<pid_t> pids[kProcessCount];
};

struct StageSpec {
  std::string name;
  std::string strategy;  // as passed to serve ("" when serve was not started by us)
  std::string json;
  int page_size = 0;
  std::vector<std::string> serve_flags;  // more flags for serve, e.g. {"--live-rooms", "off"}
  bool with_events = true;               // false: the same polls with no event stream (a baseline)
  std::optional<bool> conditional;       // overrides StageSettings::conditional
};

struct StageSettings {
  RoomMix mix;
  loadgen::ArrivalSchedule::Kind arrivals = loadgen::ArrivalSchedule::Kind::kPoisson;
  EventRates events;
  std::chrono::milliseconds duration{20'000};
  std::chrono::milliseconds warmup{3'000};
  std::string path;          // when set, polled instead of the rooms' lists
  bool conditional = false;  // viewers send If-None-Match with their last ETag
  bool progress = true;      // a progress line on stderr every 2 s
  int threads = 1;           // load threads, each sending 1/threads of the rate
  std::uint64_t seed = 1;
  // Events during the warm-up too (not measured), so the measured window
  // starts in the steady state of a room with events.
  bool events_in_warmup = false;
  // When set, who the hot room's events come from (see EventPlan); also
  // how seed_rooms opens the hot room.
  RoomMembers* hot_room_members = nullptr;
  // With Endpoints::staleness_from: polls per second each probe sends to
  // its instance (evenly spaced, with If-None-Match), so an answer showing
  // an event comes at most 1/rate after the instance has it.
  double probe_per_second = 100;
};

boost::asio::awaitable<StageResult> run_stage(Endpoints endpoints, StageSpec spec,
                                              const StageSettings& settings);

// Posts each room's opening events (members enter and send gifts): the
// hot room's from `hot_room_members` when given, the others' from
// seeding_body with at most `members_cap` members.
// Returns an empty string, or why it failed.
boost::asio::awaitable<std::string> seed_rooms(Endpoints endpoints, const RoomMix& mix, int members_cap,
                                               const RoomMembers* hot_room_members = nullptr);

}  // namespace micq::bench

#endif  // MICQ_BENCH_STAGE_H_
