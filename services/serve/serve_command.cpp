#include "serve_command.h"

#include "micq/http/server.h"
#include "micq/redis/client.h"
#include "micq/redis/cluster.h"
#include "micq/service/flag_checks.h"
#include "micq/service/serve_modes.h"
#include "serve_service.h"

namespace micq::serve {
namespace {

struct Flags {
  service::ServerFlags server;
  std::string redis = "127.0.0.1:6379";
  std::string redis_cluster;
  std::string aggregator = "http://127.0.0.1:8081";
  Strategy strategy = Strategy::kCached;
  int ttl_ms = 1000;
  int gzip_level = 1;
  int max_stale_ms = 30'000;
  int page_size = 10;
  int max_page_size = 50;
  JsonEngine json = JsonEngine::kFast;
  std::string events_token;
  int upstream_timeout_ms = 500;
  bool l2 = false;
  int rebuild_interval_ms = 50;
  bool live_rooms = true;
  int max_pages = 10'000;
  int max_builds = 1000;
  int max_batches = 32;
  int admission_wait_ms = 200;
  int wait_replicas = 0;
  long long sendfile_min_bytes = 32 * 1024;  // measured crossover: README, Measured
};

// The checks of flags against each other, after each flag's own check (at
// its definition): why they do not go together, or empty.
std::string validate_together(const Flags& flags) {
  if (flags.page_size < 1 || flags.page_size > flags.max_page_size)
    return "--page-size must be 1..--max-page-size";
  if (flags.l2 && flags.strategy != Strategy::kCached) return "--l2 on needs --strategy cached";
  return {};
}

int run(const Flags& flags) {
  if (std::string why = validate_together(flags); !why.empty()) return service::fail_usage("serve", why);
  // Each parse below succeeds: the flag's check at its definition made it.
  auto options = service::server_options(flags.server);
  auto redis = *redis::parse_endpoint(flags.redis);
  std::vector<redis::Endpoint> cluster_seeds;
  if (!flags.redis_cluster.empty()) cluster_seeds = *redis::parse_seeds(flags.redis_cluster);
  auto aggregator = *http::parse_upstream(flags.aggregator);
  ServeConfig config;
  config.strategy = flags.strategy;
  config.json = flags.json;
  config.gzip_level = flags.gzip_level;
  config.ttl = std::chrono::milliseconds(flags.ttl_ms);
  config.max_stale = std::chrono::milliseconds(flags.max_stale_ms);
  config.page_size = flags.page_size;
  config.max_page_size = flags.max_page_size;
  config.events_token = flags.events_token;
  config.upstream_timeout = std::chrono::milliseconds(flags.upstream_timeout_ms);
  config.l2 = flags.l2;
  config.rebuild_interval = std::chrono::milliseconds(flags.rebuild_interval_ms);
  config.live_rooms = flags.live_rooms;
  config.max_pages = static_cast<std::size_t>(flags.max_pages);
  for (auto [admission, limit] :
       {std::pair{&config.builds, flags.max_builds}, {&config.batches, flags.max_batches}}) {
    admission->max_in_flight = static_cast<std::size_t>(limit);
    admission->max_queued = 4 * admission->max_in_flight;
    admission->max_wait = std::chrono::milliseconds(flags.admission_wait_ms);
  }
  config.wait_replicas = flags.wait_replicas;
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
    store = std::make_unique<redis::RedisClient>(executor, redis);
    config.redis_nodes = {redis};
  } else {
    config.redis_nodes = cluster_seeds;
    config.redis_cluster = true;
    store = std::make_unique<redis::RedisCluster>(executor, std::move(cluster_seeds));  // replaces --redis
  }
  ServeService serve(executor, std::move(store), aggregator, config, metrics);
  http::add_standard_routes(server.router(), metrics);
  serve.add_routes(server.router());
  return service::serve_until_stopped("serve", server);
}

}  // namespace

void add_command(CLI::App& app, service::Action& action) {
  auto flags = std::make_shared<Flags>();
  CLI::App* command = app.add_subcommand("serve", "Serve the mic-queue list API (SPEC §2).");
  service::add_server_flags(*command, flags->server, "127.0.0.1:8080");
  service::add_flag(*command, "redis", flags->redis, "one Redis node host:port")
      ->check(service::parsed_by(redis::parse_endpoint));
  service::add_flag(*command, "redis-cluster", flags->redis_cluster, "comma list of Redis Cluster seed nodes")
      ->check(service::or_empty(service::parsed_by(redis::parse_seeds)));
  service::add_flag(*command, "aggregator", flags->aggregator, "base URL of the aggregation service")
      ->check(service::parsed_by(http::parse_upstream));
  service::add_choice(*command, "strategy", flags->strategy, service::kStrategyNames,
                      "direct, singleflight or cached");
  service::add_flag(*command, "ttl-ms", flags->ttl_ms, "how long a loaded page is fresh")
      ->check(service::in_range(1, 3'600'000));
  service::add_flag(*command, "max-stale-ms", flags->max_stale_ms,
                    "how long past its TTL a page may be served while a refresh fails")
      ->check(service::in_range(0, 86'400'000));
  // 1..--max-page-size: checked with it, in validate_together.
  service::add_flag(*command, "page-size", flags->page_size, "default size");
  service::add_flag(*command, "max-page-size", flags->max_page_size, "largest size accepted")
      ->check(service::in_range(1, 1000));
  service::add_choice(*command, "json", flags->json, service::kJsonNames,
                      "fast or baseline (nlohmann::json)");
  service::add_flag(*command, "events-token", flags->events_token,
                    "bearer token required on event writes; unset: writes refused with 503");
  service::add_flag(*command, "upstream-timeout-ms", flags->upstream_timeout_ms,
                    "deadline for one aggregator or Redis call")
      ->check(service::in_range(1, 60'000));
  service::add_flag(*command, "gzip-level", flags->gzip_level,
                    "zlib level (1 fastest .. 9 smallest) for clients that accept gzip; 0: never compress")
      ->check(service::in_range(0, 9));
  service::add_choice(*command, "l2", flags->l2, service::kOnOff,
                      "on: share built pages through Redis, one build per page per TTL for the whole fleet");
  service::add_flag(
      *command, "rebuild-interval-ms", flags->rebuild_interval_ms,
      "least time between two rebuilds of one page that room events cause; 0: rebuild at every event")
      ->check(service::in_range(0, 60'000));
  service::add_choice(*command, "live-rooms", flags->live_rooms, service::kOnOff,
                      "on: pages from per-user privilege records, rebuilt in the background on room events; "
                      "off: the write-up's plain TTL cache (one batch per build, events leave pages alone), "
                      "as a baseline");
  service::add_flag(*command, "max-pages", flags->max_pages,
                    "cached: pages kept (each room, page and size one), the least recently used evicted")
      ->check(service::in_range(1, 10'000'000));
  service::add_flag(*command, "max-builds", flags->max_builds,
                    "page builds at once; the next wait for a slot, up to 4x as many")
      ->check(service::in_range(1, 100'000));
  service::add_flag(*command, "max-batches", flags->max_batches,
                    "aggregator batches at once (each fans out to every kind: 32 x 24 kinds stays within the "
                    "aggregator's 1,024 downstream connections); the next wait for a slot, up to 4x as many")
      ->check(service::in_range(1, 100'000));
  service::add_flag(
      *command, "admission-wait-ms", flags->admission_wait_ms,
      "longest wait of a build or batch for a slot; past it (or with the queue full) the request "
      "gets a stale page if there is one, else 429 overloaded with Retry-After")
      ->check(service::in_range(0, 60'000));
  service::add_flag(
      *command, "wait-replicas", flags->wait_replicas,
      "acknowledge an event request once this many Redis replicas have it (WAIT, within half of "
      "--upstream-timeout-ms), else 503 outcome_unknown; 0: once the master has it")
      ->check(service::in_range(0, 16));
  service::add_flag(*command, "sendfile-min-bytes", flags->sendfile_min_bytes,
                    "cached pages at least this large go out with sendfile(2) from a sealed memfd; 0: never")
      ->check(service::at_least(0LL));
  command->callback([flags, &action] { action = [flags] { return run(*flags); }; });
}

}  // namespace micq::serve
