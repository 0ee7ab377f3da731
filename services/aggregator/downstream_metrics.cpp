#include "downstream_metrics.h"

#include <prometheus/family.h>

namespace micq::aggregator {

namespace {

constexpr std::array<const char*, 4> kOutcomeNames = {"ok", "error", "timeout", "malformed"};

// 1 ms .. 5 s: downstream services answer in milliseconds; deadlines are
// at most seconds.
prometheus::Histogram::BucketBoundaries latency_buckets() {
  return {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5};
}

}  // namespace

DownstreamMetrics::DownstreamMetrics(prometheus::Registry& registry, const std::vector<std::string>& kinds) {
  auto& calls = prometheus::BuildCounter()
                    .Name("micq_aggregator_downstream_calls_total")
                    .Help("Downstream calls by kind and outcome (ok, error, timeout, malformed).")
                    .Register(registry);
  auto& seconds = prometheus::BuildHistogram()
                      .Name("micq_aggregator_downstream_seconds")
                      .Help("Downstream call latency by kind, whatever the outcome.")
                      .Register(registry);
  kinds_.resize(kinds.size());
  for (std::size_t k = 0; k < kinds.size(); ++k) {
    for (std::size_t o = 0; o < kOutcomeNames.size(); ++o) {
      kinds_[k].calls[o] = &calls.Add({{"kind", kinds[k]}, {"outcome", kOutcomeNames[o]}});
    }
    kinds_[k].seconds = &seconds.Add({{"kind", kinds[k]}}, latency_buckets());
  }
}

void DownstreamMetrics::observe(std::size_t kind, Outcome outcome, double seconds) {
  if (kind >= kinds_.size()) return;
  kinds_[kind].calls[static_cast<std::size_t>(outcome)]->Increment();
  kinds_[kind].seconds->Observe(seconds);
}

}  // namespace micq::aggregator
