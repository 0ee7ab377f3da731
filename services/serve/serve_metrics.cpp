#include "serve_metrics.h"

#include <string>
#include <utility>

namespace micq::serve {

namespace {

using Labels = std::vector<prometheus::ClientMetric::Label>;

void add(std::vector<prometheus::MetricFamily>& families, std::string name, std::string help,
         prometheus::MetricType type, std::vector<std::pair<Labels, double>> series) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  for (auto& [labels, value] : series) {
    prometheus::ClientMetric metric;
    metric.label = std::move(labels);
    if (type == prometheus::MetricType::Gauge) {
      metric.gauge.value = value;
    } else {
      metric.counter.value = value;
    }
    family.metric.push_back(std::move(metric));
  }
  families.push_back(std::move(family));
}

void counter(std::vector<prometheus::MetricFamily>& families, std::string name, std::string help,
             double value) {
  add(families, std::move(name), std::move(help), prometheus::MetricType::Counter, {{{}, value}});
}

double d(std::uint64_t value) { return static_cast<double>(value); }

}  // namespace

void ServeMetrics::detach() {
  sync::MutexLock lock(mu_);
  pages_ = nullptr;
  rooms_ = nullptr;
  privileges_ = nullptr;
  builds_ = nullptr;
  batches_ = nullptr;
  channels_ = nullptr;
  fleet_records_ = nullptr;
}

std::vector<prometheus::MetricFamily> ServeMetrics::Collect() const {
  sync::MutexLock lock(mu_);
  std::vector<prometheus::MetricFamily> families;
  if (!pages_) return families;
  SourceStats pages = pages_->stats();
  counter(families, "micq_cache_hits_total", "Pages served from the cache within their TTL.", d(pages.hits));
  counter(families, "micq_cache_stale_serves_total",
          "Pages served past their TTL because a dependency failed.", d(pages.stale_serves));
  counter(families, "micq_page_loads_started_total", "Page loads started (Redis + privileges + JSON).",
          d(pages.loads_started));
  counter(families, "micq_callers_coalesced_total", "Requests that joined a page load already in flight.",
          d(pages.callers_coalesced));
  counter(families, "micq_load_waits_total",
          "Requests that had to wait for a load before they could be answered (a miss, or a page too old).",
          d(pages.load_waits));
  counter(families, "micq_cache_early_refreshes_total", "Pages refreshed ahead of expiry in the background.",
          d(pages.early_refreshes));
  add(families, "micq_cache_entries", "Pages the cache holds (at most --max-pages).",
      prometheus::MetricType::Gauge, {{{}, d(pages.entries)}});
  counter(families, "micq_cache_evictions_total", "Pages evicted to keep the cache bounded.",
          d(pages.evictions));
  counter(families, "micq_aggregator_request_retries_total",
          "Aggregator requests sent again on a fresh connection because a pooled one had been closed by the "
          "aggregator (ever-growing: its idle timeout is shorter than the pool's reuse).",
          d(privileges_->client_retries()));
  add(families, "micq_upstream_errors_total", "Failed calls to a dependency, by upstream.",
      prometheus::MetricType::Counter,
      {{{{"upstream", "redis"}}, d(rooms_->errors())},
       {{{"upstream", "aggregator"}}, d(privileges_->errors())}});
  if (pages.rebuilds) {
    counter(families, "micq_page_rebuilds_total", "Background page rebuilds started by room events.",
            d(pages.rebuilds->rebuilds_started));
    counter(families, "micq_rebuild_events_coalesced_total",
            "Page marks by room events that found a rebuild already coming.",
            d(pages.rebuilds->events_coalesced));
    add(families, "micq_rebuild_pages_tracked", "Cached pages that room events rebuild.",
        prometheus::MetricType::Gauge, {{{}, d(pages.rebuilds->pages_tracked)}});
  }
  if (pages.privileges) {
    const PrivilegeCacheStats& p = *pages.privileges;
    add(families, "micq_privilege_batches_total",
        "Aggregator batches for per-user privilege records, by why they were needed.",
        prometheus::MetricType::Counter,
        {{{{"reason", "new_users"}}, d(p.batches_new_users)},
         {{{"reason", "refresh"}}, d(p.batches_refresh)},
         {{{"reason", "privilege_event"}}, d(p.batches_privilege_event)}});
    counter(families, "micq_privilege_batches_failed_total", "Privilege batches that failed.",
            d(p.batches_failed));
    counter(families, "micq_privilege_users_fetched_total", "Users asked of the aggregator.",
            d(p.users_fetched));
    counter(families, "micq_privilege_users_joined_total",
            "Users a page rebuild took from a batch another rebuild had started.", d(p.users_joined));
    counter(families, "micq_privilege_cache_evictions_total",
            "Users' records evicted to keep the cache bounded.", d(p.evictions));
    add(families, "micq_privilege_cache_entries", "Users with cached privilege records.",
        prometheus::MetricType::Gauge, {{{}, d(p.entries)}});
    add(families, "micq_privilege_cache_bytes", "Bytes of cached privilege records.",
        prometheus::MetricType::Gauge, {{{}, d(p.bytes)}});
  }
  if (channels_) {
    RoomChannelStats c = channels_->stats();
    add(families, "micq_notification_rooms", "Rooms whose notifications this instance listens to.",
        prometheus::MetricType::Gauge, {{{}, d(c.rooms)}});
    add(families, "micq_notification_channels",
        "Sharded pub/sub channels wanted, and of those subscribed now (fewer: notifications are being "
        "lost, and the TTL bounds staleness until they are back).",
        prometheus::MetricType::Gauge,
        {{{{"state", "wanted"}}, d(c.subscriber.channels)},
         {{{"state", "subscribed"}}, d(c.subscriber.subscribed)}});
    counter(families, "micq_notification_subscriptions_lost_total",
            "Channel subscriptions ended by a lost connection or a moved slot (each resubscribed).",
            d(c.subscriber.subscriptions_lost));
    counter(families, "micq_notification_messages_total", "Notifications received.",
            d(c.subscriber.messages));
  }
  if (fleet_records_) {
    FleetRecordsStats f = fleet_records_->stats();
    add(families, "micq_fleet_record_users_total",
        "Users' privilege records by where a fetch found them: shared by another instance, or fetched here.",
        prometheus::MetricType::Counter,
        {{{{"source", "fleet"}}, d(f.users_shared)}, {{{"source", "aggregator"}}, d(f.users_fetched)}});
    counter(families, "micq_fleet_record_lock_waits_total",
            "Fetches that waited for another instance fetching the same users.", d(f.lock_waits));
    counter(families, "micq_fleet_record_wait_timeouts_total",
            "Of those, fetches that gave up waiting and fetched here.", d(f.wait_timeouts));
    counter(families, "micq_fleet_record_batches_unshared_total",
            "Fetches whose records were not shared: a privilege event in the room came while they ran.",
            d(f.batches_unshared));
  }
  AdmissionStats builds = builds_->stats(), batches = batches_->stats();
  add(families, "micq_admission_in_flight",
      "Page builds (at most --max-builds) and aggregator batches (at most --max-batches) running now.",
      prometheus::MetricType::Gauge,
      {{{{"work", "builds"}}, d(builds.in_flight)}, {{{"work", "batches"}}, d(batches.in_flight)}});
  add(families, "micq_admission_queued", "Page builds and aggregator batches waiting for a slot.",
      prometheus::MetricType::Gauge,
      {{{{"work", "builds"}}, d(builds.queued)}, {{{"work", "batches"}}, d(batches.queued)}});
  add(families, "micq_admission_rejected_total",
      "Builds and batches not admitted (their request got 429 overloaded unless a stale page was served), "
      "by why.",
      prometheus::MetricType::Counter,
      {{{{"work", "builds"}, {"reason", "queue_full"}}, d(builds.rejected_queue_full)},
       {{{"work", "builds"}, {"reason", "queue_timeout"}}, d(builds.rejected_wait)},
       {{{"work", "batches"}, {"reason", "queue_full"}}, d(batches.rejected_queue_full)},
       {{{"work", "batches"}, {"reason", "queue_timeout"}}, d(batches.rejected_wait)}});
  return families;
}

}  // namespace micq::serve
