#include "micq/metrics/metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>

namespace micq::metrics {

namespace {

constexpr std::string_view kRequestsName = "micq_http_requests_total";
constexpr std::string_view kRequestsHelp = "HTTP requests served, by route and status code.";
constexpr std::string_view kLatencyName = "micq_http_request_duration_seconds";
constexpr std::string_view kLatencyHelp =
    "Time from a complete request to its ready response, by route and status code.";

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
  Metrics::RequestSeries* series = nullptr;
};
thread_local LastSeries last_series;

}  // namespace

void Metrics::RequestSeries::observe(double seconds) {
  auto bucket = std::lower_bound(kLatencyBuckets.begin(), kLatencyBuckets.end(), seconds);
  counts[static_cast<std::size_t>(bucket - kLatencyBuckets.begin())].fetch_add(1, std::memory_order_relaxed);
  const double ns = std::max(0.0, seconds) * 1e9;
  nanoseconds.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

Metrics::Metrics() : id_(next_metrics_id.fetch_add(1)), registry_(std::make_shared<prometheus::Registry>()) {}

void Metrics::observe_request(std::string_view route, unsigned status, double seconds) {
  LastSeries& last = last_series;
  if (last.metrics_id == id_ && last.status == status && last.route == route) {
    last.series->observe(seconds);
    return;
  }
  RequestSeries* series = nullptr;
  {
    sync::ReaderLock lock(mu_);
    auto it = series_.find(std::pair<std::string_view, unsigned>(route, status));
    if (it != series_.end()) series = it->second.get();
  }
  if (!series) {
    sync::WriterLock lock(mu_);
    auto key = std::make_pair(std::string(route), status);
    auto it = series_.find(key);
    if (it == series_.end()) it = series_.emplace(std::move(key), std::make_unique<RequestSeries>()).first;
    series = it->second.get();
  }
  last.metrics_id = id_;
  last.route.assign(route);
  last.status = status;
  last.series = series;
  series->observe(seconds);
}

void Metrics::add_collectable(std::shared_ptr<prometheus::Collectable> collectable) {
  sync::WriterLock lock(mu_);
  collectables_.push_back(std::move(collectable));
}

// Each series as a counter and a histogram, in prometheus-cpp's model (so
// its serializer writes them). The count is the buckets' sum, read once:
// the counter, the histogram's count and its +Inf bucket always agree.
std::vector<prometheus::MetricFamily> Metrics::collect_requests() const {
  prometheus::MetricFamily requests{
      std::string(kRequestsName), std::string(kRequestsHelp), prometheus::MetricType::Counter, {}};
  prometheus::MetricFamily latency{
      std::string(kLatencyName), std::string(kLatencyHelp), prometheus::MetricType::Histogram, {}};
  sync::ReaderLock lock(mu_);
  for (const auto& [key, series] : series_) {
    std::vector<prometheus::ClientMetric::Label> labels{{"route", key.first},
                                                        {"status", std::to_string(key.second)}};
    prometheus::ClientMetric histogram;
    histogram.label = labels;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < series->counts.size(); ++i) {
      cumulative += series->counts[i].load(std::memory_order_relaxed);
      double bound =
          i < kLatencyBuckets.size() ? kLatencyBuckets[i] : std::numeric_limits<double>::infinity();
      histogram.histogram.bucket.push_back({cumulative, bound});
    }
    histogram.histogram.sample_count = cumulative;
    histogram.histogram.sample_sum =
        static_cast<double>(series->nanoseconds.load(std::memory_order_relaxed)) / 1e9;
    latency.metric.push_back(std::move(histogram));
    prometheus::ClientMetric counter;
    counter.label = std::move(labels);
    counter.counter.value = static_cast<double>(cumulative);
    requests.metric.push_back(std::move(counter));
  }
  std::vector<prometheus::MetricFamily> families;
  families.push_back(std::move(requests));
  families.push_back(std::move(latency));
  return families;
}

std::string Metrics::render() const {
  std::vector<prometheus::MetricFamily> families = collect_requests();
  auto registered = registry_->Collect();
  families.insert(families.end(), std::make_move_iterator(registered.begin()),
                  std::make_move_iterator(registered.end()));
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
