#include "serve_counters.h"

#include "prometheus_text.h"

namespace micq::bench {

ServeCounters serve_counters_from(std::string_view metrics_text) {
  ServeCounters counters;
  counters.load_waits = prometheus_value(metrics_text, kLoadWaitsSeries);
  auto new_users = prometheus_value(metrics_text, kNewUserBatchesSeries);
  auto refresh = prometheus_value(metrics_text, kRefreshBatchesSeries);
  auto privilege_event = prometheus_value(metrics_text, kPrivilegeEventBatchesSeries);
  if (!new_users && !refresh && !privilege_event) return counters;
  counters.new_user_batches = new_users.value_or(0);
  counters.other_privilege_batches = refresh.value_or(0) + privilege_event.value_or(0);
  return counters;
}

}  // namespace micq::bench
