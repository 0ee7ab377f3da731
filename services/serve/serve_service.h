// micq serve (SPEC §2, §5, §8): the public mic-queue API.
//
// GET /v1/rooms/{room_id}/mic-queue loads a page as one pipelined Redis
// round trip (ZREVRANGE WITHSCORES, ZCARD, GET ver) plus one aggregator
// batch for its uids, then serializes it. --strategy decides how often:
//  * direct: every request does all of it (the write-up's "before");
//  * singleflight: identical loads in flight are coalesced, nothing kept;
//  * cached: coalesced, kept as serialized bytes + ETag + gzip for --ttl-ms,
//    refreshed ahead of expiry, served stale (with Warning and Age) for up
//    to --max-stale-ms while a dependency fails.
// POST /v1/rooms/{room_id}/events applies a validated request atomically
// with one Lua script and invalidates this process's pages of the room.
//
// Thread safety: handlers run concurrently on the server's threads.
#ifndef MICQ_SERVE_SERVE_SERVICE_H_
#define MICQ_SERVE_SERVE_SERVICE_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "micq/coalesce/cache.h"
#include "micq/coalesce/group.h"
#include "micq/http/client.h"
#include "micq/http/router.h"
#include "micq/metrics/metrics.h"
#include "micq/redis/commands.h"
#include "page.h"
#include "page_body.h"

namespace micq::serve {

enum class Strategy { kDirect, kSingleflight, kCached };

struct ServeConfig {
  Strategy strategy = Strategy::kCached;
  JsonEngine json = JsonEngine::kFast;
  std::chrono::milliseconds ttl{1000};
  std::chrono::milliseconds max_stale{30'000};
  int page_size = 10;
  int max_page_size = 50;
  std::string events_token;  // empty: writes refused with 503
  std::chrono::milliseconds upstream_timeout{500};
  // zlib level for answers to clients that accept gzip; 0: never compress.
  // With --strategy cached a page is compressed once per load, so the level
  // is CPU per load against bytes per hit.
  int gzip_level = 1;
  // Second-level cache in Redis shared by every instance: one page build
  // per key per TTL for the whole fleet (SPEC §5, --l2 on).
  bool l2 = false;
};

class ServeService {
 public:
  // `redis` is one node (redis::RedisClient) or a cluster (redis::RedisCluster).
  ServeService(boost::asio::any_io_executor executor, std::unique_ptr<redis::Commands> redis,
               http::Upstream aggregator, ServeConfig config, std::shared_ptr<metrics::Metrics> metrics);
  ~ServeService();

  // The mic-queue list, events, /readyz.
  void add_routes(http::Router& router);

 private:
  class Stats;

  boost::asio::awaitable<http::Response> mic_queue(http::Request& request);
  boost::asio::awaitable<http::Response> events(http::Request& request);
  boost::asio::awaitable<http::Response> readyz(http::Request& request);

  // Loads one page: from the shared L2 when enabled and present, else by
  // building it (at most one instance per key builds; the others wait for
  // its result). Throws DependencyError when Redis or the aggregator fails
  // (the coalescing layer hands that to every waiter).
  boost::asio::awaitable<Page> load_page(PageKey key);
  // Redis page read + aggregator batch + serialization.
  boost::asio::awaitable<Page> build_page(PageKey key);
  // The room's current version and, if some instance built that version's
  // page already, the page (one round trip).
  struct L2Lookup {
    std::string version;
    std::optional<Page> page;
  };
  boost::asio::awaitable<std::optional<L2Lookup>> l2_lookup(const PageKey& key);

  http::Response page_response(const Page& page, const http::Request& request, bool stale,
                               std::chrono::nanoseconds age) const;
  void invalidate_room(const std::string& room_id);

  const ServeConfig config_;
  std::unique_ptr<redis::Commands> redis_;
  http::ClientPool aggregator_;
  coalesce::Group<PageKey, Page, PageKeyHash> group_;
  coalesce::Cache<PageKey, Page, PageKeyHash> cache_;
  std::string cache_control_;  // constant: "max-age=<ttl s, at least 1>"

  // The page keys cached per room, so an event can drop them all. Written
  // on loads (once per TTL per key) and events, never on hits.
  std::mutex rooms_mu_;
  std::unordered_map<std::string, std::unordered_set<PageKey, PageKeyHash>>
      room_pages_;  // guarded by rooms_mu_

  std::shared_ptr<Stats> stats_;
};

}  // namespace micq::serve

#endif  // MICQ_SERVE_SERVE_SERVICE_H_
