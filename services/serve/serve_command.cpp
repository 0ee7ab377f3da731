#include "serve_command.h"

#include "micq/http/server.h"
#include "micq/redis/client.h"
#include "micq/redis/cluster.h"
#include "serve_service.h"

namespace micq::serve {
namespace {

struct Flags {
  service::ServerFlags server;
  std::string redis = "127.0.0.1:6379";
  std::string redis_cluster;
  std::string aggregator = "http://127.0.0.1:8081";
  std::string strategy = "cached";
  int ttl_ms = 1000;
  int gzip_level = 1;
  int max_stale_ms = 30'000;
  int page_size = 10;
  int max_page_size = 50;
  std::string json = "fast";
  std::string events_token;
  int upstream_timeout_ms = 500;
  std::string l2 = "off";
  int rebuild_interval_ms = 50;
  std::string live_rooms = "on";
  int max_pages = 10'000;
  int max_builds = 1000;
  int max_batches = 32;
  int admission_wait_ms = 200;
  int wait_replicas = 0;
  long long sendfile_min_bytes = 32 * 1024;  // measured crossover: README, Measured
};

int run(const Flags& flags) {
  auto options = service::server_options(flags.server);
  auto redis = redis::parse_endpoint(flags.redis);
  if (!redis) return service::fail_usage("serve", "--redis: " + redis.error());
  std::vector<redis::Endpoint> cluster_seeds;
  if (!flags.redis_cluster.empty()) {
    auto seeds = redis::parse_seeds(flags.redis_cluster);
    if (!seeds) return service::fail_usage("serve", "--redis-cluster: " + seeds.error());
    cluster_seeds = std::move(*seeds);
  }
  auto aggregator = http::parse_upstream(flags.aggregator);
  if (!aggregator) return service::fail_usage("serve", "--aggregator: " + aggregator.error());
  ServeConfig config;
  if (flags.strategy == "direct") {
    config.strategy = Strategy::kDirect;
  } else if (flags.strategy == "singleflight") {
    config.strategy = Strategy::kSingleflight;
  } else if (flags.strategy == "cached") {
    config.strategy = Strategy::kCached;
  } else {
    return service::fail_usage("serve", "--strategy must be direct, singleflight or cached");
  }
  if (flags.json == "fast") {
    config.json = JsonEngine::kFast;
  } else if (flags.json == "baseline") {
    config.json = JsonEngine::kBaseline;
  } else {
    return service::fail_usage("serve", "--json must be fast or baseline");
  }
  if (flags.ttl_ms < 1 || flags.ttl_ms > 3'600'000)
    return service::fail_usage("serve", "--ttl-ms must be 1..3600000");
  if (flags.max_stale_ms < 0 || flags.max_stale_ms > 86'400'000) {
    return service::fail_usage("serve", "--max-stale-ms must be 0..86400000");
  }
  if (flags.max_page_size < 1 || flags.max_page_size > 1000) {
    return service::fail_usage("serve", "--max-page-size must be 1..1000");
  }
  if (flags.page_size < 1 || flags.page_size > flags.max_page_size) {
    return service::fail_usage("serve", "--page-size must be 1..--max-page-size");
  }
  if (flags.upstream_timeout_ms < 1 || flags.upstream_timeout_ms > 60'000) {
    return service::fail_usage("serve", "--upstream-timeout-ms must be 1..60000");
  }
  if (flags.gzip_level < 0 || flags.gzip_level > 9)
    return service::fail_usage("serve", "--gzip-level must be 0..9");
  config.gzip_level = flags.gzip_level;
  config.ttl = std::chrono::milliseconds(flags.ttl_ms);
  config.max_stale = std::chrono::milliseconds(flags.max_stale_ms);
  config.page_size = flags.page_size;
  config.max_page_size = flags.max_page_size;
  config.events_token = flags.events_token;
  config.upstream_timeout = std::chrono::milliseconds(flags.upstream_timeout_ms);
  if (flags.l2 != "on" && flags.l2 != "off") return service::fail_usage("serve", "--l2 must be on or off");
  config.l2 = flags.l2 == "on";
  if (config.l2 && config.strategy != Strategy::kCached) {
    return service::fail_usage("serve", "--l2 on needs --strategy cached");
  }

  if (flags.rebuild_interval_ms < 0 || flags.rebuild_interval_ms > 60'000)
    return service::fail_usage("serve", "--rebuild-interval-ms must be 0..60000");
  config.rebuild_interval = std::chrono::milliseconds(flags.rebuild_interval_ms);
  if (flags.live_rooms != "on" && flags.live_rooms != "off")
    return service::fail_usage("serve", "--live-rooms must be on or off");
  config.live_rooms = flags.live_rooms == "on";
  if (flags.max_pages < 1 || flags.max_pages > 10'000'000)
    return service::fail_usage("serve", "--max-pages must be 1..10000000");
  config.max_pages = static_cast<std::size_t>(flags.max_pages);
  if (flags.max_builds < 1 || flags.max_builds > 100'000)
    return service::fail_usage("serve", "--max-builds must be 1..100000");
  if (flags.max_batches < 1 || flags.max_batches > 100'000)
    return service::fail_usage("serve", "--max-batches must be 1..100000");
  if (flags.admission_wait_ms < 0 || flags.admission_wait_ms > 60'000)
    return service::fail_usage("serve", "--admission-wait-ms must be 0..60000");
  for (auto [options, limit] :
       {std::pair{&config.builds, flags.max_builds}, {&config.batches, flags.max_batches}}) {
    options->max_in_flight = static_cast<std::size_t>(limit);
    options->max_queued = 4 * options->max_in_flight;
    options->max_wait = std::chrono::milliseconds(flags.admission_wait_ms);
  }

  if (flags.wait_replicas < 0 || flags.wait_replicas > 16)
    return service::fail_usage("serve", "--wait-replicas must be 0..16");
  config.wait_replicas = flags.wait_replicas;
  if (flags.sendfile_min_bytes < 0)
    return service::fail_usage("serve", "--sendfile-min-bytes must be at least 0");
  config.sendfile_min_bytes = static_cast<std::size_t>(flags.sendfile_min_bytes);

  auto metrics = std::make_shared<metrics::Metrics>();
  http::Server server(options, metrics);
  auto executor = server.context().get_executor();
  // Bound now (serve_until_stopped reports a failure to): answers name the
  // instance by the address it really listens on, port 0 resolved.
  if (!server.bind()) {
    auto bound = server.local_endpoint();
    config.instance = bound.address().to_string() + ":" + std::to_string(bound.port());
  }
  std::unique_ptr<redis::Commands> store;
  if (cluster_seeds.empty()) {
    store = std::make_unique<redis::RedisClient>(executor, *redis);
    config.redis_nodes = {*redis};
  } else {
    config.redis_nodes = cluster_seeds;
    config.redis_cluster = true;
    store = std::make_unique<redis::RedisCluster>(executor, std::move(cluster_seeds));  // replaces --redis
  }
  ServeService serve(executor, std::move(store), *aggregator, config, metrics);
  http::add_standard_routes(server.router(), metrics);
  serve.add_routes(server.router());
  return service::serve_until_stopped("serve", server);
}

}  // namespace

void add_command(CLI::App& app, service::Action& action) {
  auto flags = std::make_shared<Flags>();
  CLI::App* command = app.add_subcommand("serve", "Serve the mic-queue list API (SPEC §2).");
  service::add_server_flags(*command, flags->server, "127.0.0.1:8080");
  service::add_flag(*command, "redis", flags->redis, "one Redis node host:port");
  service::add_flag(*command, "redis-cluster", flags->redis_cluster,
                    "comma list of Redis Cluster seed nodes");
  service::add_flag(*command, "aggregator", flags->aggregator, "base URL of the aggregation service");
  service::add_flag(*command, "strategy", flags->strategy, "direct, singleflight or cached");
  service::add_flag(*command, "ttl-ms", flags->ttl_ms, "how long a loaded page is fresh");
  service::add_flag(*command, "max-stale-ms", flags->max_stale_ms,
                    "how long past its TTL a page may be served while a refresh fails");
  service::add_flag(*command, "page-size", flags->page_size, "default size");
  service::add_flag(*command, "max-page-size", flags->max_page_size, "largest size accepted");
  service::add_flag(*command, "json", flags->json, "fast or baseline (nlohmann::json)");
  service::add_flag(*command, "events-token", flags->events_token,
                    "bearer token required on event writes; unset: writes refused with 503");
  service::add_flag(*command, "upstream-timeout-ms", flags->upstream_timeout_ms,
                    "deadline for one aggregator or Redis call");
  service::add_flag(*command, "gzip-level", flags->gzip_level,
                    "zlib level (1 fastest .. 9 smallest) for clients that accept gzip; 0: never compress");
  service::add_flag(*command, "l2", flags->l2,
                    "on: share built pages through Redis, one build per page per TTL for the whole fleet");
  service::add_flag(
      *command, "rebuild-interval-ms", flags->rebuild_interval_ms,
      "least time between two rebuilds of one page that room events cause; 0: rebuild at every event");
  service::add_flag(*command, "live-rooms", flags->live_rooms,
                    "on: pages from per-user privilege records, rebuilt in the background on room events; "
                    "off: the write-up's plain TTL cache (one batch per build, events leave pages alone), "
                    "as a baseline");
  service::add_flag(*command, "max-pages", flags->max_pages,
                    "cached: pages kept (each room, page and size one), the least recently used evicted");
  service::add_flag(*command, "max-builds", flags->max_builds,
                    "page builds at once; the next wait for a slot, up to 4x as many");
  service::add_flag(*command, "max-batches", flags->max_batches,
                    "aggregator batches at once (each fans out to every kind: 32 x 24 kinds stays within the "
                    "aggregator's 1,024 downstream connections); the next wait for a slot, up to 4x as many");
  service::add_flag(
      *command, "admission-wait-ms", flags->admission_wait_ms,
      "longest wait of a build or batch for a slot; past it (or with the queue full) the request "
      "gets a stale page if there is one, else 429 overloaded with Retry-After");
  service::add_flag(
      *command, "wait-replicas", flags->wait_replicas,
      "acknowledge an event request once this many Redis replicas have it (WAIT, within half of "
      "--upstream-timeout-ms), else 503 outcome_unknown; 0: once the master has it");
  service::add_flag(*command, "sendfile-min-bytes", flags->sendfile_min_bytes,
                    "cached pages at least this large go out with sendfile(2) from a sealed memfd; 0: never");
  command->callback([flags, &action] { action = [flags] { return run(*flags); }; });
}

}  // namespace micq::serve
