// The counters of serve's GET /metrics that say what room events cost it
// (SPEC §2 Operations, §5): requests that had to wait for a load, and the
// privilege batches it asked the aggregator for, by why — for users new to
// a page, for a refresh of records past their TTL, or for a privilege
// event. Read before, half-way through and after a bench stage.
#ifndef MICQ_BENCH_SERVE_COUNTERS_H_
#define MICQ_BENCH_SERVE_COUNTERS_H_

#include <optional>
#include <string_view>

namespace micq::bench {

inline constexpr std::string_view kLoadWaitsSeries = "micq_load_waits_total";
inline constexpr std::string_view kNewUserBatchesSeries =
    R"(micq_privilege_batches_total{reason="new_users"})";
inline constexpr std::string_view kRefreshBatchesSeries = R"(micq_privilege_batches_total{reason="refresh"})";
inline constexpr std::string_view kPrivilegeEventBatchesSeries =
    R"(micq_privilege_batches_total{reason="privilege_event"})";

// Each nullopt when serve does not export it (an older serve, or a stage
// whose serve keeps no per-user records: `--live-rooms off`).
struct ServeCounters {
  std::optional<double> load_waits;
  std::optional<double> new_user_batches;
  // Refresh plus privilege-event batches: every batch not for new users.
  std::optional<double> other_privilege_batches;
};

// The counters in a /metrics answer. The batch series of one family are
// counted together: once any reason is exported, a reason not yet
// exported (a series made at its first use) counts 0.
ServeCounters serve_counters_from(std::string_view metrics_text);

}  // namespace micq::bench

#endif  // MICQ_BENCH_SERVE_COUNTERS_H_
