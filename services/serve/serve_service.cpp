#include "serve_service.h"

#include <boost/beast/http/field.hpp>

#include "demo_page.h"
#include "micq/service/ids.h"
#include "request_parsing.h"

namespace micq::serve {

namespace asio = boost::asio;
using http::Request;
using http::Response;
using http::Status;
namespace field = boost::beast::http;

namespace {

BuildOptions build_options(const ServeConfig& config) {
  BuildOptions options;
  options.json = config.json;
  options.gzip_level = config.gzip_level;
  options.kept = config.strategy == Strategy::kCached;
  options.sendfile_min_bytes = config.sendfile_min_bytes;
  return options;
}

PrivilegeCacheOptions privilege_options(const ServeConfig& config) {
  PrivilegeCacheOptions options = config.privilege_cache;
  options.ttl = config.ttl;
  return options;
}

Response bad_room() {
  return http::error_response(Status::bad_request, "bad_room_id", service::invalid_id_message("room_id"));
}

}  // namespace

ServeService::ServeService(asio::any_io_executor executor, std::unique_ptr<redis::Commands> redis,
                           http::Upstream aggregator, ServeConfig config,
                           std::shared_ptr<metrics::Metrics> metrics)
    : config_(std::move(config)),
      response_options_{cache_control_for(config_.ttl), config_.gzip_level, config_.instance},
      redis_(std::move(redis)),
      rooms_(*redis_, config_.upstream_timeout, config_.wait_replicas),
      builds_(config_.builds),
      batches_(config_.batches),
      privileges_(executor, std::move(aggregator), config_.upstream_timeout, &batches_) {
  bool live = config_.strategy == Strategy::kCached && config_.live_rooms;
  PrivilegeSource* record_source = &privileges_;
  // Notifications: for live rooms (other instances' events) and for shared
  // pages (another instance's build is awaited on a message).
  if ((live || config_.l2) && !config_.redis_nodes.empty()) {
    channels_.emplace(
        executor, config_.redis_nodes,
        config_.redis_cluster ? redis::Subscriber::Mode::kCluster : redis::Subscriber::Mode::kNode, *redis_,
        config_.upstream_timeout, config_.notifications);
    if (live && (config_.l2 || config_.redis_cluster)) {
      record_source = &fleet_records_.emplace(privileges_, rooms_, *channels_, config_.ttl);
    }
  }
  if (live) {
    records_.emplace(*record_source, privilege_options(config_));
    builder_ = std::make_unique<LivePageBuilder>(rooms_, *records_, build_options(config_));
  } else {
    builder_ = std::make_unique<BatchPageBuilder>(rooms_, privileges_, build_options(config_));
  }
  PageBuilder* builder = builder_.get();
  if (config_.l2 && channels_) {
    builder = &shared_builder_.emplace(rooms_, *builder_, *channels_, config_.ttl, build_options(config_));
  }
  builder = &admitted_builder_.emplace(builds_, *builder);
  switch (config_.strategy) {
    case Strategy::kDirect:
      source_ = make_direct_source(*builder);
      break;
    case Strategy::kSingleflight:
      source_ = make_singleflight_source(*builder);
      break;
    case Strategy::kCached: {
      CachedSourceOptions options;
      options.ttl = config_.ttl;
      options.max_stale = config_.max_stale;
      options.max_pages = config_.max_pages;
      options.wait_limit = config_.upstream_timeout * 2;
      options.rebuild_interval = config_.rebuild_interval;
      options.executor = executor;
      options.channels = channels_ ? &*channels_ : nullptr;
      source_ = make_cached_source(*builder, records_ ? &*records_ : nullptr, options);
      break;
    }
  }
  metrics_ = std::make_shared<ServeMetrics>(*source_, rooms_, privileges_, builds_, batches_);
  metrics_->add_fleet(channels_ ? &*channels_ : nullptr, fleet_records_ ? &*fleet_records_ : nullptr);
  metrics->add_collectable(metrics_);
}

ServeService::~ServeService() { metrics_->detach(); }

void ServeService::add_routes(http::Router& router) {
  router.add(http::Method::get, "/v1/rooms/{room_id}/mic-queue", "mic_queue",
             [this](Request& r) { return mic_queue(r); });
  router.add(http::Method::post, "/v1/rooms/{room_id}/events", "events",
             [this](Request& r) { return events(r); });
  router.add(http::Method::get, "/readyz", "readyz", [this](Request& r) { return readyz(r); });
  router.add(http::Method::get, "/demo", "demo", [](Request&) -> asio::awaitable<Response> {
    static const auto page = std::make_shared<const std::string>(demo_page_html());
    Response response = http::json_response(Status::ok, page);
    response.set(field::field::content_type, "text/html; charset=utf-8");
    co_return response;
  });
}

asio::awaitable<Response> ServeService::mic_queue(Request& request) {
  std::string_view room = request.param("room_id");
  if (!service::is_valid_id(room)) co_return bad_room();
  auto query = parse_page_query(request.query, config_.page_size, config_.max_page_size);
  if (!query) {
    co_return http::error_response(Status::bad_request, "bad_" + query.error().parameter,
                                   query.error().message);
  }
  PageKey key{std::string(room), query->page, query->size};
  // The hot path: no coroutine frame of the source, no JSON, no copy of the body.
  if (auto hit = source_->lookup(key)) {
    co_return page_response(*hit->page, request, hit->stale, hit->age, response_options_);
  }
  auto getting = source_->get(std::move(key));
  ApiResult<ServedPage> served = co_await std::move(getting);
  if (!served) co_return to_response(served.error());
  co_return page_response(*served->page, request, served->stale, served->age, response_options_);
}

asio::awaitable<Response> ServeService::events(Request& request) {
  if (config_.events_token.empty()) {
    co_return http::error_response(Status::service_unavailable, "events_disabled",
                                   "Event writes are disabled: the server has no --events-token.");
  }
  auto authorization = request.message[field::field::authorization];
  std::string_view presented(authorization.data(), authorization.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (presented.substr(0, kBearer.size()) != kBearer ||
      !token_matches(presented.substr(kBearer.size()), config_.events_token)) {
    co_return http::error_response(Status::unauthorized, "unauthorized", "A valid bearer token is required.");
  }
  std::string room(request.param("room_id"));
  if (!service::is_valid_id(room)) co_return bad_room();
  std::optional<std::string> idempotency;
  if (request.message.find("Idempotency-Key") != request.message.end()) {
    auto value = request.message["Idempotency-Key"];
    std::string_view key(value.data(), value.size());
    if (!is_valid_idempotency_key(key)) {
      co_return http::error_response(Status::bad_request, "bad_idempotency_key",
                                     "Idempotency-Key must be 1 to 128 printable characters.");
    }
    idempotency.emplace(key);
  }
  auto parsed = parse_events(request.message.body());
  if (!parsed) co_return http::error_response(Status::bad_request, "bad_events", parsed.error());
  auto applying = rooms_.apply(room, *parsed, std::move(idempotency));
  ApiResult<Applied> applied = co_await std::move(applying);
  if (!applied) {
    // Events that may have been applied rebuild the room's pages as
    // applied ones do: a rebuild of an unchanged room costs a Redis read.
    if (applied.error().code == "outcome_unknown") source_->events_applied(room, *parsed, std::nullopt);
    co_return to_response(applied.error());
  }
  // A replay applied nothing now: its first answer rebuilt the pages.
  if (!applied->replay) source_->events_applied(room, *parsed, applied->version);
  co_return http::json_response(Status::ok, std::move(applied->answer));
}

asio::awaitable<Response> ServeService::readyz(Request&) {
  auto ping_call = redis_->command(redis::Command{"PING"}, config_.upstream_timeout);
  auto ping = co_await std::move(ping_call);
  bool redis_ok = ping && !ping->is_error();
  auto health_call =
      privileges_.client().request(http::Method::get, "/healthz", "", config_.upstream_timeout);
  auto health = co_await std::move(health_call);
  bool aggregator_ok = health && health->result() == Status::ok;
  // Lost notifications do not make the instance unready (the TTL still
  // bounds staleness), but they are said.
  std::string notifications = "off";
  if (channels_) {
    redis::SubscriberStats subscribed = channels_->stats().subscriber;
    notifications = subscribed.subscribed == subscribed.channels
                        ? "subscribed"
                        : "lost for " + std::to_string(subscribed.channels - subscribed.subscribed) + " of " +
                              std::to_string(subscribed.channels) + " channels";
  }
  if (redis_ok && aggregator_ok) {
    co_return http::json_response(Status::ok,
                                  R"({"status":"ready","notifications":")" + notifications + R"("})");
  }
  std::string down = !redis_ok && !aggregator_ok ? "redis and the aggregator are"
                     : !redis_ok                 ? "redis is"
                                                 : "the aggregator is";
  co_return http::error_response(Status::service_unavailable, "not_ready",
                                 down + " not answering (notifications: " + notifications + ").");
}

}  // namespace micq::serve
