#include "fleet_report.h"

namespace micq::bench {

namespace {
constexpr std::size_t kServe = 0;

std::string cell(std::optional<double> value, const char* format) {
  if (!value) return "-";
  char text[64];
  std::snprintf(text, sizeof text, format, *value);
  return text;
}
}  // namespace

std::vector<FleetRow> fleet_rows(const Report& report) {
  std::vector<FleetRow> rows;
  for (const auto& stage : report.stages) {
    if (stage.instances <= 0) continue;
    FleetRow row;
    row.instances = stage.instances;
    row.stage = stage.name;
    row.with_events = stage.with_events;
    row.aggregator_batches_per_second = stage.per_second(stage.aggregator_batches);
    if (stage.redis_commands && stage.served_requests() > 0)
      row.redis_commands_per_request =
          static_cast<double>(*stage.redis_commands) / static_cast<double>(stage.served_requests());
    row.staleness_samples = stage.staleness_samples;
    if (stage.staleness_samples > 0) {
      row.staleness_p50_ms = stage.staleness_p50_ms;
      row.staleness_p99_ms = stage.staleness_p99_ms;
    }
    row.serve_cpu_ms_per_1k_requests = stage.cpu_ms_per_thousand(kServe);
    row.latency_p50_ms = stage.p50_ms;
    row.latency_p99_ms = stage.p99_ms;
    row.requests = stage.requests();
    row.errors = stage.errors + stage.probe_errors;
    row.probe_requests = stage.probe_requests;
    rows.push_back(std::move(row));
  }
  return rows;
}

void print_fleet_table(const Report& report, std::FILE* out) {
  std::fprintf(out, "\nmicq bench: %s, %s\n", report.scenario.c_str(), report.started_at.c_str());
  std::fprintf(out, "machine: %s\n", report.machine.c_str());
  std::fprintf(out, "load:    %s; events %s\n", report.room_mix.c_str(), report.events.c_str());
  std::fprintf(out, "stack:   %s; %.0f s measured per stage after %.0f s warm-up\n\n", report.stack.c_str(),
               report.duration_s, report.warmup_s);
  std::fprintf(out, "%-24s %10s %12s %18s %14s %18s %9s %10s\n", "", "batches/s", "Redis cmd/req",
               "staleness p50/p99", "serve CPU ms", "client p50/p99 ms", "errors", "requests");
  std::fprintf(out, "%-24s %10s %12s %18s %14s %18s %9s %10s\n", "", "(aggregator)", "", "ms (other inst.)",
               "per 1,000 req", "", "", "(+ probes)");
  for (const auto& row : fleet_rows(report)) {
    std::string staleness =
        row.staleness_p50_ms ? cell(row.staleness_p50_ms, "%.1f") + " / " + cell(row.staleness_p99_ms, "%.1f")
                             : "-";
    std::string latency = cell(row.latency_p50_ms, "%.2f") + " / " + cell(row.latency_p99_ms, "%.2f");
    std::string requests = std::to_string(row.requests) + " + " + std::to_string(row.probe_requests);
    std::fprintf(out, "%-24s %10s %12s %18s %14s %18s %9llu %10s\n", row.stage.c_str(),
                 cell(row.aggregator_batches_per_second, "%.2f").c_str(),
                 cell(row.redis_commands_per_request, "%.3f").c_str(), staleness.c_str(),
                 cell(row.serve_cpu_ms_per_1k_requests, "%.1f").c_str(), latency.c_str(),
                 static_cast<unsigned long long>(row.errors), requests.c_str());
  }
  for (const auto& stage : report.stages) {
    if (stage.error_kinds.empty()) continue;
    std::string kinds;
    for (const auto& [kind, count] : stage.error_kinds)
      kinds += (kinds.empty() ? "" : ", ") + kind + " x" + std::to_string(count);
    std::fprintf(out, "  errors of %s: %s\n", stage.name.c_str(), kinds.c_str());
  }
}

}  // namespace micq::bench
