// micq serve (SPEC §2, §5, §8): the public mic-queue API, as a thin handler
// over the pieces chosen at start-up:
//
//   GET  mic-queue ─▶ PageSource (one per --strategy) ─▶ PageBuilder
//                       │ cached: Cache + RebuildScheduler   ├─ RoomStore (Redis: ranking page)
//                       └─ response shaping (304, gzip, …)   └─ privileges: PrivilegeCache (live
//                                                               rooms) or one batch per build
//   POST events   ─▶ RoomStore::apply (one Lua script) ─▶ PageSource::events_applied
//
// Failures travel as ApiError values (exactly the SPEC error) from the
// dependency that failed to the response.
//
// Thread safety: handlers run concurrently on the server's threads.
#ifndef MICQ_SERVE_SERVE_SERVICE_H_
#define MICQ_SERVE_SERVE_SERVICE_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "admission.h"
#include "fleet_records.h"
#include "micq/http/client.h"
#include "micq/http/router.h"
#include "micq/metrics/metrics.h"
#include "micq/redis/commands.h"
#include "micq/redis/subscriber.h"
#include "micq/service/serve_modes.h"
#include "page_builder.h"
#include "page_source.h"
#include "privilege_cache.h"
#include "privilege_source.h"
#include "response.h"
#include "room_channels.h"
#include "room_store.h"
#include "serve_metrics.h"
#include "shared_pages.h"

namespace micq::serve {

using service::Strategy;  // --strategy: direct, singleflight or cached

struct ServeConfig {
  Strategy strategy = Strategy::kCached;
  JsonEngine json = JsonEngine::kFast;
  std::chrono::milliseconds ttl{1000};
  std::chrono::milliseconds max_stale{30'000};
  int page_size = 10;
  int max_page_size = 50;
  std::string events_token;  // empty: writes refused with 503
  std::string instance;      // X-Micq-Instance of page answers (the listen address); empty: none
  std::chrono::milliseconds upstream_timeout{500};
  // zlib level for answers to clients that accept gzip; 0: never compress.
  // With --strategy cached a page is compressed once per build, so the
  // level is CPU per build against bytes per hit.
  int gzip_level = 1;
  // Cached pages at least this large are sent with sendfile(2) from a
  // sealed memfd (no copy of the body per answer); 0: never.
  std::size_t sendfile_min_bytes = 32 * 1024;
  // Second-level cache in Redis shared by every instance: one page build
  // per key per TTL for the whole fleet (SPEC §5, --l2 on).
  bool l2 = false;
  // Where the rooms' notifications are subscribed (SPEC §5, §8): the one
  // node, or the cluster's seeds. Empty: no notifications (each instance
  // hears only its own events).
  std::vector<redis::Endpoint> redis_nodes;
  bool redis_cluster = false;
  redis::SubscriberOptions notifications;
  // Event requests are acknowledged once this many replicas have them
  // (WAIT); 0: once the master has (a failover may lose the last ones).
  int wait_replicas = 0;
  // Cached only. Live rooms: pages are built from per-user privilege
  // records and room events rebuild them in the background, at most once
  // per page per `rebuild_interval`. Off: the write-up's plain TTL cache
  // (one batch per build; events leave cached pages alone), kept as the
  // baseline micq is measured against.
  bool live_rooms = true;
  std::chrono::milliseconds rebuild_interval{50};
  PrivilegeCacheOptions privilege_cache;  // ttl is set from `ttl`
  std::size_t max_pages = 10'000;         // cached: pages kept, least recently used evicted
  // Overload: page builds and aggregator batches at once, and how long
  // each waits for a slot before the request gets 429 (or a stale page).
  AdmissionOptions builds{1000, 4000, std::chrono::milliseconds(200)};
  AdmissionOptions batches{32, 128, std::chrono::milliseconds(200)};
};

class ServeService {
 public:
  // `redis` is one node (redis::RedisClient) or a cluster (redis::RedisCluster).
  ServeService(boost::asio::any_io_executor executor, std::unique_ptr<redis::Commands> redis,
               http::Upstream aggregator, ServeConfig config, std::shared_ptr<metrics::Metrics> metrics);
  ~ServeService();

  // The mic-queue list, events, /readyz, /demo.
  void add_routes(http::Router& router);

 private:
  boost::asio::awaitable<http::Response> mic_queue(http::Request& request);
  boost::asio::awaitable<http::Response> events(http::Request& request);
  boost::asio::awaitable<http::Response> readyz(http::Request& request);

  const ServeConfig config_;
  const ResponseOptions response_options_;
  std::unique_ptr<redis::Commands> redis_;
  RoomStore rooms_;
  Admission builds_;
  Admission batches_;
  AggregatorPrivileges privileges_;
  std::optional<RoomChannels> channels_;       // cached with live rooms and Redis nodes to listen to
  std::optional<FleetRecords> fleet_records_;  // with channels_, shared by a fleet (--l2 on, a cluster)
  std::optional<PrivilegeCache> records_;      // cached with live rooms
  std::unique_ptr<PageBuilder> builder_;
  std::optional<SharedPageBuilder> shared_builder_;  // --l2 on, around builder_
  std::optional<AdmittedBuilder> admitted_builder_;  // around the two above
  std::unique_ptr<PageSource> source_;
  std::shared_ptr<ServeMetrics> metrics_;
};

}  // namespace micq::serve

#endif  // MICQ_SERVE_SERVE_SERVICE_H_
