#include "micq/metrics/metrics.h"

#include <prometheus/text_serializer.h>

#include <atomic>
#include <cstdint>

namespace micq::metrics {

namespace {

// Every Metrics gets an id never given again, so a thread's remembered
// series can never be taken for a later Metrics at the same address.
std::atomic<std::uint64_t> next_metrics_id{1};

// The series this thread counted last: a server thread counts the same
// route and status request after request (every hit), and then needs
// neither the shared lock nor the map.
struct LastSeries {
  std::uint64_t metrics_id = 0;
  std::string route;
  unsigned status = 0;
  prometheus::Counter* requests = nullptr;
  prometheus::Histogram* latency = nullptr;
};
thread_local LastSeries last_series;

}  // namespace

Metrics::Metrics() : id_(next_metrics_id.fetch_add(1)), registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("micq_http_requests_total")
                   .Help("HTTP requests served, by route and status code.")
                   .Register(*registry_);
  latency_ = &prometheus::BuildHistogram()
                  .Name("micq_http_request_duration_seconds")
                  .Help("Time from a complete request to its ready response, by route and status code.")
                  .Register(*registry_);
}

void Metrics::observe_request(std::string_view route, unsigned status, double seconds) {
  LastSeries& last = last_series;
  if (last.metrics_id == id_ && last.status == status && last.route == route) {
    last.requests->Increment();
    last.latency->Observe(seconds);
    return;
  }
  Series series{};
  bool found = false;
  {
    sync::ReaderLock lock(mu_);
    auto it = series_.find(std::pair<std::string_view, unsigned>(route, status));
    if (it != series_.end()) {
      series = it->second;
      found = true;
    }
  }
  if (!found) {
    sync::WriterLock lock(mu_);
    auto key = std::make_pair(std::string(route), status);
    auto it = series_.find(key);
    if (it == series_.end()) {
      prometheus::Labels labels{{"route", std::string(route)}, {"status", std::to_string(status)}};
      static const prometheus::Histogram::BucketBoundaries kBuckets{
          0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
      Series created{&requests_->Add(labels), &latency_->Add(labels, kBuckets)};
      it = series_.emplace(std::move(key), created).first;
    }
    series = it->second;
  }
  last.metrics_id = id_;
  last.route.assign(route);
  last.status = status;
  last.requests = series.requests;
  last.latency = series.latency;
  series.requests->Increment();
  series.latency->Observe(seconds);
}

void Metrics::add_collectable(std::shared_ptr<prometheus::Collectable> collectable) {
  sync::WriterLock lock(mu_);
  collectables_.push_back(std::move(collectable));
}

std::string Metrics::render() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  {
    sync::ReaderLock lock(mu_);
    for (const auto& collectable : collectables_) {
      auto more = collectable->Collect();
      families.insert(families.end(), std::make_move_iterator(more.begin()),
                      std::make_move_iterator(more.end()));
    }
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace micq::metrics
