// Per-kind metrics of the aggregator's downstream calls, for /metrics:
//
//   micq_aggregator_downstream_calls_total{kind,outcome}
//     outcome: ok | error (transport or non-200) | timeout | malformed
//     (answered 200 but not {"users":{...}} JSON)
//   micq_aggregator_downstream_seconds{kind}   call latency histogram
//
// Which kind is degraded, and whether it is failing or slow, is the first
// question when a mic-queue list loses privileges. Kinds are the configured
// list, so the label sets are bounded. Series are created up front: a call
// costs two pointer lookups and atomic adds.
//
// Thread safety: observe() may be called from any thread.
#ifndef MICQ_AGGREGATOR_DOWNSTREAM_METRICS_H_
#define MICQ_AGGREGATOR_DOWNSTREAM_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace micq::aggregator {

class DownstreamMetrics {
 public:
  enum class Outcome { kOk, kError, kTimeout, kMalformed };

  DownstreamMetrics(prometheus::Registry& registry, const std::vector<std::string>& kinds);

  // One call to kinds[kind] ended with `outcome` after `seconds`.
  void observe(std::size_t kind, Outcome outcome, double seconds);

 private:
  struct PerKind {
    std::array<prometheus::Counter*, 4> calls{};  // by Outcome
    prometheus::Histogram* seconds = nullptr;
  };
  std::vector<PerKind> kinds_;
};

}  // namespace micq::aggregator

#endif  // MICQ_AGGREGATOR_DOWNSTREAM_METRICS_H_
