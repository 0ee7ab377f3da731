// What `micq bench --scenario fleet` reports per fleet size: one row per
// stage run on N instances (without events, with them) of the numbers the
// fleet is judged by (issue 11's targets): aggregator batches/s, Redis
// commands per request, cross-instance staleness, serve CPU per 1,000
// requests summed over the instances, client latency and errors. The rows
// are printed as a table and written into the JSON (report.cpp).
#ifndef MICQ_BENCH_FLEET_REPORT_H_
#define MICQ_BENCH_FLEET_REPORT_H_

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "report.h"

namespace micq::bench {

struct FleetRow {
  int instances = 0;
  std::string stage;
  bool with_events = false;
  std::optional<double> aggregator_batches_per_second;
  std::optional<double> redis_commands_per_request;          // per request served (clients' and probes')
  std::optional<double> staleness_p50_ms, staleness_p99_ms;  // across instances; none without events
  std::uint64_t staleness_samples = 0;
  std::optional<double> serve_cpu_ms_per_1k_requests;
  double latency_p50_ms = 0, latency_p99_ms = 0;
  std::uint64_t requests = 0, errors = 0, probe_requests = 0;
};

// The fleet stages of `report` (those with instances > 0), in run order.
std::vector<FleetRow> fleet_rows(const Report& report);

// The heading and one line per fleet row.
void print_fleet_table(const Report& report, std::FILE* out);

}  // namespace micq::bench

#endif  // MICQ_BENCH_FLEET_REPORT_H_
