// ServeMetrics: serve's own series in /metrics (SPEC §2 Operations), read
// from the pieces' counters at scrape time — nothing on the request path
// writes anything for them beyond those counters.
//
// Thread safety: Collect() runs on the scraping thread while the pieces
// serve; detach() (before the pieces go) makes later scrapes empty.
#ifndef MICQ_SERVE_SERVE_METRICS_H_
#define MICQ_SERVE_SERVE_METRICS_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

#include "admission.h"
#include "fleet_records.h"
#include "micq/sync/mutex.h"
#include "page_source.h"
#include "privilege_source.h"
#include "room_store.h"

namespace micq::serve {

class ServeMetrics final : public prometheus::Collectable {
 public:
  ServeMetrics(const PageSource& pages, const RoomStore& rooms, const AggregatorPrivileges& privileges,
               const Admission& builds, const Admission& batches)
      : pages_(&pages), rooms_(&rooms), privileges_(&privileges), builds_(&builds), batches_(&batches) {}

  // Live rooms: the notifications and (shared by a fleet) the records.
  void add_fleet(const RoomChannels* channels, const FleetRecords* records) {
    sync::MutexLock lock(mu_);
    channels_ = channels;
    fleet_records_ = records;
  }

  void detach();
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  mutable sync::Mutex mu_;
  // Null once detached.
  const PageSource* pages_ MICQ_GUARDED_BY(mu_);
  const RoomStore* rooms_ MICQ_GUARDED_BY(mu_);
  const AggregatorPrivileges* privileges_ MICQ_GUARDED_BY(mu_);
  const Admission* builds_ MICQ_GUARDED_BY(mu_);
  const Admission* batches_ MICQ_GUARDED_BY(mu_);
  const RoomChannels* channels_ MICQ_GUARDED_BY(mu_) = nullptr;
  const FleetRecords* fleet_records_ MICQ_GUARDED_BY(mu_) = nullptr;
};

}  // namespace micq::serve

#endif  // MICQ_SERVE_SERVE_METRICS_H_
