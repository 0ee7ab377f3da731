// The results of a bench run and what they mean at scale: per stage
// (strategy) the client latency and errors, aggregator and downstream
// requests, CPU per 1,000 client requests of each process, staleness; the
// machines each tier would need for a target load; and the reductions of
// every stage against the first; and, for a run whose second stage is its
// first's polls plus room events (hot-room), what the events cost.
// Rendered as a table (stdout), JSON (bench-results/*.json) and an SVG
// chart.
//
// Extrapolation is linear in cost per request: machines = target requests/s
// x CPU seconds per request / (cores per machine x utilization). For the
// coalescing strategies that is an upper bound — their cost per request
// falls as a room's request rate grows, and the target's rooms are busier
// than a single test machine can drive.
#ifndef MICQ_BENCH_REPORT_H_
#define MICQ_BENCH_REPORT_H_

#include <boost/system/result.hpp>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace micq::bench {

// The processes whose CPU a stage is charged with, in report order.
inline constexpr const char* kProcesses[] = {"serve", "aggregator", "sim", "redis", "bench"};
inline constexpr std::size_t kProcessCount = 5;
// The tiers machines are counted for (bench itself is not a tier).
inline constexpr std::size_t kTierCount = 4;

struct StageResult {
  std::string name;  // e.g. "direct+baseline+size20"
  std::string strategy;
  std::string json;
  int page_size = 0;

  double seconds = 0;
  double offered_per_second = 0;
  std::uint64_t scheduled = 0;
  std::uint64_t ok = 0;
  std::uint64_t not_modified = 0;  // of ok: 304 (with --conditional on)
  std::uint64_t errors = 0;
  std::vector<std::pair<std::string, std::uint64_t>> error_kinds;  // e.g. {"HTTP 503", 2}
  double p50_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;

  // Deltas over the measured window; nullopt when not measurable.
  std::optional<std::uint64_t> aggregator_batches;
  std::optional<std::uint64_t> downstream_requests;
  std::optional<double> cpu_seconds[kProcessCount];
  // From serve's /metrics (serve_counters.h); nullopt when serve does not
  // export the series.
  std::optional<std::uint64_t> new_user_batches;         // privilege batches for users new to a page
  std::optional<std::uint64_t> other_privilege_batches;  // refresh and privilege-event batches
  std::optional<std::uint64_t> load_waits;               // micq_load_waits_total
  std::optional<std::uint64_t> load_waits_last_half;     // the same over the window's second half

  // Fleet: serve instances behind haproxy (0: one serve, polled directly),
  // and whether the stage had its event stream.
  int instances = 0;
  bool with_events = true;
  // Redis commands processed over the window, summed over the nodes.
  std::optional<std::uint64_t> redis_commands;
  // Staleness probes (fleet): polls sent to instances directly, apart from
  // the client requests above but served by the same instances.
  std::uint64_t probe_requests = 0, probe_errors = 0;

  std::uint64_t events_sent = 0, events_applied = 0, events_failed = 0, bumps = 0;
  std::uint64_t staleness_samples = 0, staleness_unseen = 0;
  double staleness_p50_ms = 0, staleness_p99_ms = 0, staleness_max_ms = 0;
  double hot_staleness_p50_ms = 0, hot_staleness_p99_ms = 0;

  std::uint64_t requests() const { return ok + errors; }
  // Every request the serve instances answered: the clients' and the probes'.
  std::uint64_t served_requests() const { return requests() + probe_requests; }
  double achieved_per_second() const { return seconds > 0 ? static_cast<double>(requests()) / seconds : 0; }
  // `count` over the measured seconds.
  std::optional<double> per_second(std::optional<std::uint64_t> count) const;
  // `count` per 1,000 requests served (client requests and probes).
  std::optional<double> per_thousand(std::optional<double> count) const;
  std::optional<double> cpu_ms_per_thousand(std::size_t process) const;
  // The share of successful answers that were 304 Not Modified.
  std::optional<double> not_modified_share() const;
};

// A load to size for: `rooms` rooms of `viewers` viewers each polling every
// `poll_seconds` (default: the write-up's 1,000 x 10,000 / 3 s).
struct TargetLoad {
  double rooms = 1000;
  double viewers = 10000;
  double poll_seconds = 3;

  double requests_per_second() const { return rooms * viewers / poll_seconds; }
  // "1000x10000" (rooms x viewers per room).
  static boost::system::result<TargetLoad, std::string> parse(std::string_view text, double poll_seconds);
};

struct Sizing {
  double cores_per_machine = 16;
  double utilization = 0.6;  // the CPU share a machine is planned to run at
};

// CPU cores a tier busy at `cpu_ms_per_thousand` needs for `target`.
std::optional<double> cores_needed(std::optional<double> cpu_ms_per_thousand, const TargetLoad& target);
// Machines a tier needs for `target` at `cpu_ms_per_thousand`, each run at
// `sizing.utilization` of its cores (rounded up; at least 1 for any cost).
std::optional<double> machines_needed(std::optional<double> cpu_ms_per_thousand, const TargetLoad& target,
                                      const Sizing& sizing);
// 100 x (1 - after/before), or nullopt if before is 0 or unknown.
std::optional<double> reduction_percent(std::optional<double> before, std::optional<double> after);

// after / before, or nullopt if before is 0 or unknown.
std::optional<double> ratio(std::optional<double> before, std::optional<double> after);

// What room events cost: a stage with events against the same polls
// without (after / before of each).
struct EventCost {
  std::optional<double> aggregator_batches_per_second;
  std::optional<double> p50;
  std::optional<double> p99;
  std::optional<double> serve_cpu_per_thousand;
};
EventCost event_cost(const StageResult& without_events, const StageResult& with_events);

struct Report {
  std::string scenario;
  std::string started_at;  // UTC, ISO 8601
  std::string machine;     // CPU model, cores, kernel
  std::string room_mix;    // e.g. "1 hot room x 600 + 20 rooms x 15 viewers, polling every 3 s (poisson)"
  std::string events;      // e.g. "gift=2,chat=2,..."
  std::string stack;       // e.g. "24 kinds x 1024 B, sim latency 5 ms +- 5 ms, ttl 1000 ms"
  double duration_s = 0;
  double warmup_s = 0;
  TargetLoad target;
  Sizing sizing;
  std::vector<StageResult> stages;
  // stages[1] is stages[0]'s polls plus the event stream: report what the
  // events cost (event_cost).
  bool events_vs_no_events = false;
  // The stage that answers the same polls, without events, with a body
  // every time (hot-room with If-None-Match: its last), if any.
  std::optional<std::size_t> bodies_reference;
};

// "Intel(R) Xeon(R) ... | 2 cores | Linux 6.1.0"
std::string describe_machine();

void print_table(const Report& report, std::FILE* out);
std::string to_json(const Report& report);
std::string to_svg(const Report& report);

}  // namespace micq::bench

#endif  // MICQ_BENCH_REPORT_H_
