#include "report.h"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>

#include "fleet_report.h"

namespace micq::bench {

namespace {
// Tier names for machines, by process index (sim stands for the downstream services).
constexpr const char* kTiers[kTierCount] = {"serve", "aggregator", "downstream", "redis"};
constexpr std::size_t kServe = 0, kAggregator = 1;

std::string format(const char* spec, double value) {
  char text[64];
  std::snprintf(text, sizeof text, spec, value);
  return text;
}
std::string or_dash(std::optional<double> value, const char* spec) {
  return value ? format(spec, *value) : "-";
}
std::optional<double> as_double(std::optional<std::uint64_t> value) {
  if (!value) return std::nullopt;
  return static_cast<double>(*value);
}
}  // namespace

std::optional<double> StageResult::per_second(std::optional<std::uint64_t> count) const {
  if (!count || seconds <= 0) return std::nullopt;
  return static_cast<double>(*count) / seconds;
}

std::optional<double> StageResult::per_thousand(std::optional<double> count) const {
  if (!count || served_requests() == 0) return std::nullopt;
  return *count * 1000.0 / static_cast<double>(served_requests());
}

std::optional<double> StageResult::cpu_ms_per_thousand(std::size_t process) const {
  auto seconds_used = cpu_seconds[process];
  if (!seconds_used) return std::nullopt;
  return per_thousand(*seconds_used * 1000.0);
}

std::optional<double> StageResult::not_modified_share() const {
  if (ok == 0) return std::nullopt;
  return static_cast<double>(not_modified) / static_cast<double>(ok);
}

boost::system::result<TargetLoad, std::string> TargetLoad::parse(std::string_view text, double poll_seconds) {
  auto x = text.find('x');
  if (x == std::string_view::npos) return std::string("expected ROOMSxVIEWERS, e.g. 1000x10000");
  TargetLoad target;
  target.poll_seconds = poll_seconds;
  auto number = [](std::string_view part, double& out) {
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), out);
    return ec == std::errc() && end == part.data() + part.size() && out >= 1 && out <= 1e9;
  };
  if (!number(text.substr(0, x), target.rooms) || !number(text.substr(x + 1), target.viewers))
    return std::string("expected ROOMSxVIEWERS with each 1..1e9, e.g. 1000x10000");
  return target;
}

std::optional<double> cores_needed(std::optional<double> cpu_ms_per_thousand, const TargetLoad& target) {
  if (!cpu_ms_per_thousand) return std::nullopt;
  // ms per 1,000 requests -> CPU seconds per request -> CPU seconds per second.
  return *cpu_ms_per_thousand / 1e6 * target.requests_per_second();
}

std::optional<double> machines_needed(std::optional<double> cpu_ms_per_thousand, const TargetLoad& target,
                                      const Sizing& sizing) {
  auto cores = cores_needed(cpu_ms_per_thousand, target);
  if (!cores) return std::nullopt;
  if (*cores <= 0) return 0.0;
  return std::max(1.0, std::ceil(*cores / (sizing.cores_per_machine * sizing.utilization)));
}

std::optional<double> reduction_percent(std::optional<double> before, std::optional<double> after) {
  if (!before || !after || *before <= 0) return std::nullopt;
  return 100.0 * (1.0 - *after / *before);
}

std::optional<double> ratio(std::optional<double> before, std::optional<double> after) {
  if (!before || !after || !(*before > 0)) return std::nullopt;
  return *after / *before;
}

EventCost event_cost(const StageResult& without_events, const StageResult& with_events) {
  EventCost cost;
  cost.aggregator_batches_per_second = ratio(without_events.per_second(without_events.aggregator_batches),
                                             with_events.per_second(with_events.aggregator_batches));
  cost.p50 = ratio(without_events.p50_ms, with_events.p50_ms);
  cost.p99 = ratio(without_events.p99_ms, with_events.p99_ms);
  cost.serve_cpu_per_thousand =
      ratio(without_events.cpu_ms_per_thousand(kServe), with_events.cpu_ms_per_thousand(kServe));
  return cost;
}

std::string describe_machine() {
  std::string model = "unknown CPU";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) model = line.substr(line.find_first_not_of(' ', colon + 1));
      break;
    }
  }
  utsname name{};
  uname(&name);
  return model + " | " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " cores | " + name.sysname + " " +
         name.release;
}

namespace {

// The comparisons of every stage against the first.
struct Comparison {
  std::optional<double> aggregator_requests;  // reduction in % of aggregator batches per request
  std::optional<double> aggregator_cores;
  std::optional<double> serve_cpu;
  std::optional<double> all_cores;
};

std::optional<double> total_cores(const StageResult& stage, const TargetLoad& target) {
  double sum = 0;
  for (std::size_t tier = 0; tier < kTierCount; ++tier) {
    auto cores = cores_needed(stage.cpu_ms_per_thousand(tier), target);
    if (!cores) return std::nullopt;
    sum += *cores;
  }
  return sum;
}

Comparison compare(const StageResult& before, const StageResult& after, const TargetLoad& target) {
  Comparison c;
  c.aggregator_requests = reduction_percent(before.per_thousand(as_double(before.aggregator_batches)),
                                            after.per_thousand(as_double(after.aggregator_batches)));
  c.aggregator_cores = reduction_percent(cores_needed(before.cpu_ms_per_thousand(kAggregator), target),
                                         cores_needed(after.cpu_ms_per_thousand(kAggregator), target));
  c.serve_cpu = reduction_percent(before.cpu_ms_per_thousand(kServe), after.cpu_ms_per_thousand(kServe));
  c.all_cores = reduction_percent(total_cores(before, target), total_cores(after, target));
  return c;
}

}  // namespace

void print_table(const Report& report, std::FILE* out) {
  const auto& stages = report.stages;
  std::fprintf(out, "\nmicq bench: %s, %s\n", report.scenario.c_str(), report.started_at.c_str());
  std::fprintf(out, "machine: %s\n", report.machine.c_str());
  std::fprintf(out, "load:    %s; events %s\n", report.room_mix.c_str(), report.events.c_str());
  std::fprintf(out, "stack:   %s; %.0f s measured per stage after %.0f s warm-up\n\n", report.stack.c_str(),
               report.duration_s, report.warmup_s);
  auto row = [&](const std::string& label, auto cell) {
    std::fprintf(out, "%-40s", label.c_str());
    for (const auto& stage : stages) std::fprintf(out, " %24s", cell(stage).c_str());
    std::fprintf(out, "\n");
  };
  row("", [](const StageResult& s) { return s.name; });
  row("client requests (ok + errors)", [](const StageResult& s) { return std::to_string(s.requests()); });
  row("  offered / achieved per s", [](const StageResult& s) {
    return format("%.0f", s.offered_per_second) + " / " + format("%.0f", s.achieved_per_second());
  });
  row("  errors", [](const StageResult& s) { return std::to_string(s.errors); });
  row("  answered 304 Not Modified", [](const StageResult& s) { return std::to_string(s.not_modified); });
  row("  304 share of answers %", [](const StageResult& s) {
    auto share = s.not_modified_share();
    return or_dash(share ? std::optional<double>(*share * 100) : std::nullopt, "%.1f");
  });
  row("  latency p50 / p99 ms",
      [](const StageResult& s) { return format("%.2f", s.p50_ms) + " / " + format("%.2f", s.p99_ms); });
  row("  latency p99.9 / max ms",
      [](const StageResult& s) { return format("%.2f", s.p999_ms) + " / " + format("%.2f", s.max_ms); });
  row("aggregator batches per s", [](const StageResult& s) {
    return s.aggregator_batches ? format("%.1f", static_cast<double>(*s.aggregator_batches) / s.seconds)
                                : "-";
  });
  row("  per 1,000 client requests",
      [](const StageResult& s) { return or_dash(s.per_thousand(as_double(s.aggregator_batches)), "%.1f"); });
  row("  for users new to the page per s",
      [](const StageResult& s) { return or_dash(s.per_second(s.new_user_batches), "%.2f"); });
  row("  refresh + privilege events per s",
      [](const StageResult& s) { return or_dash(s.per_second(s.other_privilege_batches), "%.2f"); });
  row("downstream requests per s", [](const StageResult& s) {
    return s.downstream_requests ? format("%.0f", static_cast<double>(*s.downstream_requests) / s.seconds)
                                 : "-";
  });
  for (std::size_t p = 0; p < kProcessCount; ++p) {
    row(std::string(p == 0 ? "CPU ms per 1,000 requests: " : "                           ") + kProcesses[p],
        [p](const StageResult& s) { return or_dash(s.cpu_ms_per_thousand(p), "%.1f"); });
  }
  row("serve load waits (window / last half)", [](const StageResult& s) {
    return or_dash(as_double(s.load_waits), "%.0f") + " / " +
           or_dash(as_double(s.load_waits_last_half), "%.0f");
  });
  row("events applied / sent (bumps)", [](const StageResult& s) {
    return std::to_string(s.events_applied) + " / " + std::to_string(s.events_sent) + " (" +
           std::to_string(s.bumps) + ")";
  });
  row("staleness p50 / p99 ms (all rooms)", [](const StageResult& s) {
    return s.staleness_samples
               ? format("%.1f", s.staleness_p50_ms) + " / " + format("%.1f", s.staleness_p99_ms)
               : "-";
  });
  row("staleness p50 / p99 ms (hot room)", [](const StageResult& s) {
    return s.staleness_samples
               ? format("%.1f", s.hot_staleness_p50_ms) + " / " + format("%.1f", s.hot_staleness_p99_ms)
               : "-";
  });
  row("  events not yet seen at the end",
      [](const StageResult& s) { return std::to_string(s.staleness_unseen); });
  for (const auto& stage : stages) {
    if (stage.error_kinds.empty()) continue;
    std::string kinds;
    for (const auto& [kind, count] : stage.error_kinds)
      kinds += (kinds.empty() ? "" : ", ") + kind + " x" + std::to_string(count);
    std::fprintf(out, "  errors of %s: %s\n", stage.name.c_str(), kinds.c_str());
  }
  if (report.events_vs_no_events && stages.size() >= 2) {
    auto cost = event_cost(stages[0], stages[1]);
    auto times = [](std::optional<double> value) { return value ? "x" + format("%.2f", *value) : "-"; };
    std::fprintf(
        out, "\nevents vs no events (%s against %s): batches %s, p50 %s, p99 %s, serve CPU per 1,000 %s\n",
        stages[1].name.c_str(), stages[0].name.c_str(), times(cost.aggregator_batches_per_second).c_str(),
        times(cost.p50).c_str(), times(cost.p99).c_str(), times(cost.serve_cpu_per_thousand).c_str());
    if (report.bodies_reference && *report.bodies_reference < stages.size()) {
      const StageResult& bodies = stages[*report.bodies_reference];
      auto beyond = event_cost(bodies, stages[1]);
      std::fprintf(out,
                   "events vs every answer a body (%s against %s): p50 %s, p99 %s, serve CPU per 1,000 %s\n",
                   stages[1].name.c_str(), bodies.name.c_str(), times(beyond.p50).c_str(),
                   times(beyond.p99).c_str(), times(beyond.serve_cpu_per_thousand).c_str());
    }
  }
  const auto& target = report.target;
  std::fprintf(out,
               "\nmachines for %.0f rooms x %.0f viewers polling every %.0f s (%.3g requests/s), %.0f cores "
               "at %.0f%%:\n",
               target.rooms, target.viewers, target.poll_seconds, target.requests_per_second(),
               report.sizing.cores_per_machine, report.sizing.utilization * 100);
  for (std::size_t tier = 0; tier < kTierCount; ++tier) {
    row(std::string("  ") + kTiers[tier], [&](const StageResult& s) {
      return or_dash(machines_needed(s.cpu_ms_per_thousand(tier), target, report.sizing), "%.0f");
    });
  }
  if (stages.size() < 2) return;
  std::fprintf(out, "\nagainst %s:\n", stages[0].name.c_str());
  for (std::size_t i = 1; i < stages.size(); ++i) {
    auto c = compare(stages[0], stages[i], target);
    std::fprintf(
        out,
        "  %-24s aggregator requests %s%% fewer, aggregator tier %s%% smaller, serve CPU per request "
        "%s%% less, all tiers %s%% smaller\n",
        stages[i].name.c_str(), or_dash(c.aggregator_requests, "%.2f").c_str(),
        or_dash(c.aggregator_cores, "%.1f").c_str(), or_dash(c.serve_cpu, "%.1f").c_str(),
        or_dash(c.all_cores, "%.1f").c_str());
  }
}

namespace {

using Writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void put(Writer& w, const char* key, std::optional<double> value) {
  w.Key(key);
  if (value && std::isfinite(*value)) {
    w.Double(*value);
  } else {
    w.Null();
  }
}
void put(Writer& w, const char* key, double value) { put(w, key, std::optional<double>(value)); }
void put(Writer& w, const char* key, std::optional<std::uint64_t> value) {
  w.Key(key);
  if (value) {
    w.Uint64(*value);
  } else {
    w.Null();
  }
}
void put(Writer& w, const char* key, std::uint64_t value) {
  w.Key(key);
  w.Uint64(value);
}
void put(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

void write_stage(Writer& w, const StageResult& s, const Report& report) {
  w.StartObject();
  put(w, "name", s.name);
  put(w, "strategy", s.strategy);
  put(w, "json", s.json);
  put(w, "page_size", static_cast<std::uint64_t>(s.page_size));
  put(w, "instances", static_cast<std::uint64_t>(s.instances));
  w.Key("with_events");
  w.Bool(s.with_events);
  put(w, "seconds", s.seconds);
  put(w, "offered_per_second", s.offered_per_second);
  put(w, "achieved_per_second", s.achieved_per_second());
  w.Key("requests");
  w.StartObject();
  put(w, "scheduled", s.scheduled);
  put(w, "ok", s.ok);
  put(w, "not_modified", s.not_modified);
  put(w, "not_modified_share", s.not_modified_share());
  put(w, "errors", s.errors);
  w.Key("errors_by_kind");
  w.StartObject();
  for (const auto& [kind, count] : s.error_kinds) put(w, kind.c_str(), count);
  w.EndObject();
  w.EndObject();
  w.Key("latency_ms");
  w.StartObject();
  put(w, "p50", s.p50_ms);
  put(w, "p99", s.p99_ms);
  put(w, "p99_9", s.p999_ms);
  put(w, "max", s.max_ms);
  w.EndObject();
  w.Key("aggregator");
  w.StartObject();
  put(w, "batches", s.aggregator_batches);
  put(w, "batches_per_second", s.per_second(s.aggregator_batches));
  put(w, "batches_per_1k_requests", s.per_thousand(as_double(s.aggregator_batches)));
  put(w, "downstream_requests", s.downstream_requests);
  put(w, "downstream_requests_per_second", s.per_second(s.downstream_requests));
  w.EndObject();
  // Serve's own counters (its /metrics): why it asked for privilege
  // batches, and how many requests waited for a load.
  w.Key("serve_metrics");
  w.StartObject();
  put(w, "new_user_batches", s.new_user_batches);
  put(w, "new_user_batches_per_second", s.per_second(s.new_user_batches));
  put(w, "other_privilege_batches", s.other_privilege_batches);
  put(w, "other_privilege_batches_per_second", s.per_second(s.other_privilege_batches));
  put(w, "load_waits", s.load_waits);
  put(w, "load_waits_last_half", s.load_waits_last_half);
  w.EndObject();
  w.Key("redis");
  w.StartObject();
  put(w, "commands", s.redis_commands);
  put(w, "commands_per_request",
      s.redis_commands && s.served_requests() > 0
          ? std::optional<double>(static_cast<double>(*s.redis_commands) /
                                  static_cast<double>(s.served_requests()))
          : std::nullopt);
  w.EndObject();
  w.Key("staleness_probes");
  w.StartObject();
  put(w, "requests", s.probe_requests);
  put(w, "errors", s.probe_errors);
  w.EndObject();
  w.Key("cpu_seconds");
  w.StartObject();
  for (std::size_t p = 0; p < kProcessCount; ++p) put(w, kProcesses[p], s.cpu_seconds[p]);
  w.EndObject();
  w.Key("cpu_ms_per_1k_requests");
  w.StartObject();
  for (std::size_t p = 0; p < kProcessCount; ++p) put(w, kProcesses[p], s.cpu_ms_per_thousand(p));
  w.EndObject();
  // The same in SPEC §6's unit.
  w.Key("cpu_seconds_per_1k_requests");
  w.StartObject();
  for (std::size_t p = 0; p < kProcessCount; ++p) {
    auto ms = s.cpu_ms_per_thousand(p);
    put(w, kProcesses[p], ms ? std::optional<double>(*ms / 1000.0) : std::nullopt);
  }
  w.EndObject();
  w.Key("events");
  w.StartObject();
  put(w, "sent", s.events_sent);
  put(w, "applied", s.events_applied);
  put(w, "failed", s.events_failed);
  put(w, "sim_bumps", s.bumps);
  w.EndObject();
  w.Key("staleness_ms");
  w.StartObject();
  put(w, "samples", s.staleness_samples);
  put(w, "unseen", s.staleness_unseen);
  auto if_any = [&](double v) { return s.staleness_samples ? std::optional<double>(v) : std::nullopt; };
  put(w, "p50", if_any(s.staleness_p50_ms));
  put(w, "p99", if_any(s.staleness_p99_ms));
  put(w, "max", if_any(s.staleness_max_ms));
  put(w, "hot_room_p50", if_any(s.hot_staleness_p50_ms));
  put(w, "hot_room_p99", if_any(s.hot_staleness_p99_ms));
  w.EndObject();
  w.Key("target_cores");
  w.StartObject();
  for (std::size_t tier = 0; tier < kTierCount; ++tier)
    put(w, kTiers[tier], cores_needed(s.cpu_ms_per_thousand(tier), report.target));
  w.EndObject();
  w.Key("target_machines");
  w.StartObject();
  for (std::size_t tier = 0; tier < kTierCount; ++tier)
    put(w, kTiers[tier], machines_needed(s.cpu_ms_per_thousand(tier), report.target, report.sizing));
  w.EndObject();
  w.EndObject();
}

}  // namespace

std::string to_json(const Report& report) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  put(w, "scenario", report.scenario);
  put(w, "started_at", report.started_at);
  put(w, "machine", report.machine);
  put(w, "room_mix", report.room_mix);
  put(w, "events", report.events);
  put(w, "stack", report.stack);
  put(w, "duration_s", report.duration_s);
  put(w, "warmup_s", report.warmup_s);
  w.Key("target");
  w.StartObject();
  put(w, "rooms", report.target.rooms);
  put(w, "viewers_per_room", report.target.viewers);
  put(w, "poll_seconds", report.target.poll_seconds);
  put(w, "requests_per_second", report.target.requests_per_second());
  put(w, "cores_per_machine", report.sizing.cores_per_machine);
  put(w, "utilization", report.sizing.utilization);
  w.EndObject();
  w.Key("stages");
  w.StartArray();
  for (const auto& stage : report.stages) write_stage(w, stage, report);
  w.EndArray();
  w.Key("comparisons");
  w.StartArray();
  for (std::size_t i = 1; i < report.stages.size(); ++i) {
    auto c = compare(report.stages[0], report.stages[i], report.target);
    w.StartObject();
    put(w, "stage", report.stages[i].name);
    put(w, "against", report.stages[0].name);
    put(w, "aggregator_requests_reduction_pct", c.aggregator_requests);
    put(w, "aggregator_tier_reduction_pct", c.aggregator_cores);
    put(w, "serve_cpu_per_request_reduction_pct", c.serve_cpu);
    put(w, "all_tiers_reduction_pct", c.all_cores);
    w.EndObject();
  }
  w.EndArray();
  w.Key("events_vs_no_events");
  if (report.events_vs_no_events && report.stages.size() >= 2) {
    auto cost = event_cost(report.stages[0], report.stages[1]);
    w.StartObject();
    put(w, "stage", report.stages[1].name);
    put(w, "against", report.stages[0].name);
    put(w, "aggregator_batches_per_second_ratio", cost.aggregator_batches_per_second);
    put(w, "latency_p50_ratio", cost.p50);
    put(w, "latency_p99_ratio", cost.p99);
    put(w, "serve_cpu_per_1k_requests_ratio", cost.serve_cpu_per_thousand);
    w.EndObject();
  } else {
    w.Null();
  }
  // fleet: the numbers per fleet size (fleet_report.h).
  w.Key("fleet");
  w.StartArray();
  for (const auto& row : fleet_rows(report)) {
    w.StartObject();
    put(w, "instances", static_cast<std::uint64_t>(row.instances));
    put(w, "stage", row.stage);
    w.Key("with_events");
    w.Bool(row.with_events);
    put(w, "aggregator_batches_per_second", row.aggregator_batches_per_second);
    put(w, "redis_commands_per_request", row.redis_commands_per_request);
    put(w, "staleness_samples", row.staleness_samples);
    put(w, "staleness_p50_ms", row.staleness_p50_ms);
    put(w, "staleness_p99_ms", row.staleness_p99_ms);
    put(w, "serve_cpu_ms_per_1k_requests", row.serve_cpu_ms_per_1k_requests);
    put(w, "latency_p50_ms", row.latency_p50_ms);
    put(w, "latency_p99_ms", row.latency_p99_ms);
    put(w, "requests", row.requests);
    put(w, "probe_requests", row.probe_requests);
    put(w, "errors", row.errors);
    w.EndObject();
  }
  w.EndArray();
  w.Key("events_vs_every_answer_a_body");
  if (report.events_vs_no_events && report.bodies_reference &&
      *report.bodies_reference < report.stages.size()) {
    auto beyond = event_cost(report.stages[*report.bodies_reference], report.stages[1]);
    w.StartObject();
    put(w, "stage", report.stages[1].name);
    put(w, "against", report.stages[*report.bodies_reference].name);
    put(w, "latency_p50_ratio", beyond.p50);
    put(w, "latency_p99_ratio", beyond.p99);
    put(w, "serve_cpu_per_1k_requests_ratio", beyond.serve_cpu_per_thousand);
    w.EndObject();
  } else {
    w.Null();
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

namespace {

std::string escape_xml(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

struct Bar {
  std::string label;
  std::optional<double> value;
  int series;  // colour
};

// One panel of horizontal bars on a log scale (values span 1000x and more).
void panel(std::string& svg, double& y, const std::string& title, const std::vector<Bar>& bars,
           const char* value_format) {
  constexpr double kLeft = 260, kWidth = 560, kRow = 18;
  static constexpr const char* kColours[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#9c755f"};
  double lo = INFINITY, hi = 0;
  for (const auto& bar : bars) {
    if (bar.value && *bar.value > 0) {
      lo = std::min(lo, *bar.value);
      hi = std::max(hi, *bar.value);
    }
  }
  if (!(hi > 0)) lo = hi = 1;
  double floor_log = std::floor(std::log10(lo)) - 0.3, top_log = std::log10(hi) + 0.05;
  auto scale = [&](double v) {
    return (std::log10(v) - floor_log) / std::max(top_log - floor_log, 1e-9) * kWidth;
  };
  svg += "<text x=\"10\" y=\"" + format("%.0f", y + 14) + "\" font-weight=\"bold\">" + escape_xml(title) +
         " (log scale)</text>\n";
  y += 24;
  for (const auto& bar : bars) {
    svg += "<text x=\"" + format("%.0f", kLeft - 8) + "\" y=\"" + format("%.0f", y + 12) +
           "\" text-anchor=\"end\">" + escape_xml(bar.label) + "</text>\n";
    std::string shown = bar.value ? format(value_format, *bar.value) : "not measured";
    double width = bar.value && *bar.value > 0 ? std::max(scale(*bar.value), 1.0) : 0;
    if (width > 0) {
      svg += "<rect x=\"" + format("%.0f", kLeft) + "\" y=\"" + format("%.0f", y + 2) + "\" width=\"" +
             format("%.1f", width) + "\" height=\"" + format("%.0f", kRow - 4) + "\" fill=\"" +
             kColours[bar.series % 5] + "\"/>\n";
    }
    svg += "<text x=\"" + format("%.0f", kLeft + width + 6) + "\" y=\"" + format("%.0f", y + 12) + "\">" +
           escape_xml(shown) + "</text>\n";
    y += kRow;
  }
  y += 14;
}

}  // namespace

std::string to_svg(const Report& report) {
  std::string body;
  double y = 68;  // below the three heading lines
  std::vector<Bar> cpu, batches, machines, batch_rates, latency, waits, staleness, redis_commands;
  bool redis_measured = false;
  for (const auto& stage : report.stages) {
    for (std::size_t p = 0; p + 1 < kProcessCount; ++p)
      cpu.push_back({stage.name + " · " + kProcesses[p], stage.cpu_ms_per_thousand(p), static_cast<int>(p)});
    batches.push_back({stage.name, stage.per_thousand(as_double(stage.aggregator_batches)), 1});
    redis_commands.push_back({stage.name, stage.per_thousand(as_double(stage.redis_commands)), 3});
    redis_measured = redis_measured || stage.redis_commands.has_value();
    batch_rates.push_back({stage.name + " · all", stage.per_second(stage.aggregator_batches), 0});
    batch_rates.push_back({stage.name + " · new users", stage.per_second(stage.new_user_batches), 1});
    batch_rates.push_back({stage.name + " · other", stage.per_second(stage.other_privilege_batches), 2});
    latency.push_back({stage.name + " · p50", stage.p50_ms, 0});
    latency.push_back({stage.name + " · p99", stage.p99_ms, 1});
    latency.push_back({stage.name + " · p99.9", stage.p999_ms, 2});
    waits.push_back({stage.name + " · window", as_double(stage.load_waits), 0});
    waits.push_back({stage.name + " · last half", as_double(stage.load_waits_last_half), 1});
    auto if_any = [&](double v) { return stage.staleness_samples ? std::optional<double>(v) : std::nullopt; };
    staleness.push_back({stage.name + " · p50", if_any(stage.staleness_p50_ms), 0});
    staleness.push_back({stage.name + " · p99", if_any(stage.staleness_p99_ms), 1});
    for (std::size_t tier = 0; tier < kTierCount; ++tier) {
      machines.push_back({stage.name + " · " + kTiers[tier],
                          machines_needed(stage.cpu_ms_per_thousand(tier), report.target, report.sizing),
                          static_cast<int>(tier)});
    }
  }
  panel(body, y, "CPU ms per 1,000 client requests", cpu, "%.1f");
  panel(body, y, "Aggregator requests per 1,000 client requests", batches, "%.2f");
  if (redis_measured)
    panel(body, y, "Redis commands per 1,000 client requests (summed over nodes)", redis_commands, "%.1f");
  panel(body, y,
        "Aggregator batches per second (all; serve's for new users, and other: refresh, privilege event)",
        batch_rates, "%.2f");
  panel(body, y, "Client latency ms", latency, "%.2f");
  panel(body, y, "Requests that waited for a load (serve)", waits, "%.0f");
  panel(body, y, "Staleness ms (event applied to first answer showing it)", staleness, "%.1f");
  panel(body, y,
        "Machines for " + format("%.0f", report.target.rooms) + " rooms x " +
            format("%.0f", report.target.viewers) + " viewers (" +
            format("%.0f", report.sizing.cores_per_machine) + " cores at " +
            format("%.0f", report.sizing.utilization * 100) + "%)",
        machines, "%.0f");
  std::string svg =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"" + format("%.0f", y + 10) +
      "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" "
      "fill=\"white\"/>\n<text x=\"10\" y=\"22\" font-size=\"16\" font-weight=\"bold\">micq bench: " +
      escape_xml(report.scenario) + ", " + escape_xml(report.started_at) +
      "</text>\n<text x=\"10\" y=\"40\" fill=\"#555\">" + escape_xml(report.machine) +
      "</text>\n<text x=\"10\" y=\"56\" fill=\"#555\">" + escape_xml(report.room_mix) + "</text>\n";
  return svg + body + "</svg>\n";
}

}  // namespace micq::bench
