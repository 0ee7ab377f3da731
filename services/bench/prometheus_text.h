// The value of one series in Prometheus text exposition format — what
// bench reads from serve's GET /metrics (micq_load_waits_total, the
// privilege batches by reason) before, during and after a stage.
//
// Example:
//   prometheus_value(text, "micq_load_waits_total");                          // 12
//   prometheus_value(text, R"(micq_privilege_batches_total{reason="refresh"})");  // 30
//   prometheus_value(text, "micq_no_such_series");                           // nullopt
#ifndef MICQ_BENCH_PROMETHEUS_TEXT_H_
#define MICQ_BENCH_PROMETHEUS_TEXT_H_

#include <optional>
#include <string_view>

namespace micq::bench {

// The value of the sample line whose series is exactly `series` (a metric
// name, then its labels, if any, as `{name="value",...}` in the order the
// exporter writes them: prometheus-cpp writes them sorted by name), or
// nullopt if there is no such line or its value is not a number. A name
// alone does not match the same name with labels, nor a longer name.
// Comments (# HELP, # TYPE) are skipped; a trailing timestamp is ignored.
std::optional<double> prometheus_value(std::string_view exposition, std::string_view series);

}  // namespace micq::bench

#endif  // MICQ_BENCH_PROMETHEUS_TEXT_H_
