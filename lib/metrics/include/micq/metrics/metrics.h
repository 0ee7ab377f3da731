// Metrics: one process's Prometheus registry, the HTTP request metrics every
// micq server exports, and the text exposition for GET /metrics (rendered by
// prometheus-cpp's serializer, served by micq's own HTTP server).
//
// Example:
//   auto metrics = std::make_shared<Metrics>();
//   auto& hits = prometheus::BuildCounter().Name("micq_cache_hits_total")
//                    .Help("...").Register(metrics->registry()).Add({});
//   metrics->observe_request("rooms_mic_queue", 200, 0.0004);
//   std::string text = metrics->render();
//
// Thread safety: all members may be called from any thread.
#ifndef MICQ_METRICS_METRICS_H_
#define MICQ_METRICS_METRICS_H_

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "micq/sync/mutex.h"

namespace micq::metrics {

class Metrics {
 public:
  Metrics();

  prometheus::Registry& registry() { return *registry_; }

  // Counts one HTTP request and its latency, labelled by route name and
  // status code. Route names come from the router (bounded set). A thread
  // that counts the series it counted last (a server's hits) takes no lock
  // of its own and looks nothing up.
  void observe_request(std::string_view route, unsigned status, double seconds);

  // Adds a collectable whose metrics are rendered too (e.g. gauges computed
  // from a cache's counters at scrape time).
  void add_collectable(std::shared_ptr<prometheus::Collectable> collectable);

  // Prometheus text exposition format of everything registered.
  std::string render() const;

  // One (route, status) series, counted by any thread with relaxed atomics
  // (an uncontended add each, where a prometheus::Histogram takes a mutex)
  // and read at render time. Public for metrics.cpp's thread-local cache.
  static constexpr std::array<double, 15> kLatencyBuckets{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  struct RequestSeries {
    // counts[i]: latencies in (bucket i-1, bucket i]; the last: above every bucket.
    std::array<std::atomic<std::uint64_t>, kLatencyBuckets.size() + 1> counts{};
    std::atomic<std::uint64_t> nanoseconds{0};
    void observe(double seconds);
  };

 private:
  std::vector<prometheus::MetricFamily> collect_requests() const;

  const std::uint64_t id_;  // unique per Metrics, for the thread's last series (metrics.cpp)
  std::shared_ptr<prometheus::Registry> registry_;
  mutable sync::SharedMutex mu_;
  // Orders (route, status) keys whether the route is held or only viewed,
  // so a lookup builds no string.
  struct SeriesLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      std::string_view ra(a.first), rb(b.first);
      return ra < rb || (ra == rb && a.second < b.second);
    }
  };
  // A series, once made, stays where it is until the Metrics goes.
  std::map<std::pair<std::string, unsigned>, std::unique_ptr<RequestSeries>, SeriesLess> series_
      MICQ_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_ MICQ_GUARDED_BY(mu_);
};

}  // namespace micq::metrics

#endif  // MICQ_METRICS_METRICS_H_
