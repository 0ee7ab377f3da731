#include "serve_service.h"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <charconv>
#include <stdexcept>

#include "demo_page.h"
#include "micq/service/kinds.h"
#include "micq/service/uid_batch.h"
#include "request_parsing.h"

namespace micq::serve {

namespace asio = boost::asio;
using http::Request;
using http::Response;
using http::Status;
namespace field = boost::beast::http;

namespace {

// A dependency failed while building a page: becomes a 503 with `code`.
struct DependencyError : std::runtime_error {
  DependencyError(std::string code_in, const std::string& message)
      : std::runtime_error(message), code(std::move(code_in)) {}
  std::string code;
};

std::string rank_key(std::string_view room) { return "micq:{" + std::string(room) + "}:rank"; }
std::string version_key(std::string_view room) { return "micq:{" + std::string(room) + "}:ver"; }
std::string idempotency_key(std::string_view room, std::string_view key) {
  return "micq:{" + std::string(room) + "}:idem:" + std::string(key);
}

// Applies a validated request atomically (a script runs alone in Redis):
// the replay check, every score change, INCR ver, the stored answer.
// KEYS: rank, ver[, idem]. ARGV: triples of (type, uid, increment).
constexpr char kApplyEventsScript[] = R"lua(
local rank, ver = KEYS[1], KEYS[2]
if #KEYS > 2 then
  local previous = redis.call('GET', KEYS[3])
  if previous then return {1, previous} end
end
local applied = 0
for i = 1, #ARGV, 3 do
  local kind, uid, increment = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if kind == 'enter' then
    redis.call('ZADD', rank, 'NX', 0, uid)
  elseif kind == 'exit' then
    redis.call('ZREM', rank, uid)
  elseif kind ~= 'privilege' then
    redis.call('ZINCRBY', rank, increment, uid)
  end
  applied = applied + 1
end
local version = redis.call('INCR', ver)
local answer = '{"applied":' .. applied .. ',"version":' .. version .. '}'
if #KEYS > 2 then redis.call('SET', KEYS[3], answer, 'EX', 86400) end
return {0, answer}
)lua";

const char* type_name(EventType type) {
  switch (type) {
    case EventType::kEnter:
      return "enter";
    case EventType::kExit:
      return "exit";
    case EventType::kGift:
      return "gift";
    case EventType::kChat:
      return "chat";
    case EventType::kShare:
      return "share";
    case EventType::kPrivilege:
      return "privilege";
  }
  return "privilege";
}

bool parse_score(const std::string& text, double& score) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), score);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

// Counters for /metrics, rendered together with the cache's own at scrape
// time.
class ServeService::Stats : public prometheus::Collectable {
 public:
  explicit Stats(ServeService* service) : service_(service) {}

  std::atomic<std::uint64_t> redis_errors{0};
  std::atomic<std::uint64_t> aggregator_errors{0};
  std::atomic<std::uint64_t> stale_served{0};
  std::atomic<std::uint64_t> direct_loads{0};

  void detach() {
    std::lock_guard lock(mu_);
    service_ = nullptr;
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::lock_guard lock(mu_);
    std::vector<prometheus::MetricFamily> families;
    if (!service_) return families;
    auto counter = [&](std::string name, std::string help, double value,
                       std::vector<prometheus::ClientMetric::Label> labels = {}) {
      prometheus::MetricFamily family;
      family.name = std::move(name);
      family.help = std::move(help);
      family.type = prometheus::MetricType::Counter;
      prometheus::ClientMetric metric;
      metric.label = std::move(labels);
      metric.counter.value = value;
      family.metric.push_back(std::move(metric));
      families.push_back(std::move(family));
    };
    coalesce::CacheStats cache = service_->cache_.stats();
    coalesce::GroupStats group = service_->group_.stats();
    bool cached = service_->config_.strategy == Strategy::kCached;
    double loads =
        static_cast<double>(cached ? cache.loads_started : group.loads_started + direct_loads.load());
    double coalesced = static_cast<double>(cached ? cache.callers_coalesced : group.callers_coalesced);
    counter("micq_cache_hits_total", "Pages served from the cache within their TTL.",
            static_cast<double>(cache.hits));
    counter("micq_cache_stale_serves_total", "Pages served past their TTL because a dependency failed.",
            static_cast<double>(stale_served.load()));
    counter("micq_page_loads_started_total", "Page loads started (Redis + aggregator + JSON).", loads);
    counter("micq_callers_coalesced_total", "Requests that joined a page load already in flight.", coalesced);
    counter("micq_cache_evictions_total", "Pages evicted to keep the cache bounded.",
            static_cast<double>(cache.evictions));
    prometheus::MetricFamily errors;
    errors.name = "micq_upstream_errors_total";
    errors.help = "Failed calls to a dependency, by upstream.";
    errors.type = prometheus::MetricType::Counter;
    for (auto [name, value] :
         {std::pair<const char*, double>{"redis", static_cast<double>(redis_errors.load())},
          {"aggregator", static_cast<double>(aggregator_errors.load())}}) {
      prometheus::ClientMetric metric;
      metric.label = {{"upstream", name}};
      metric.counter.value = value;
      errors.metric.push_back(std::move(metric));
    }
    families.push_back(std::move(errors));
    return families;
  }

 private:
  mutable std::mutex mu_;
  ServeService* service_;  // guarded by mu_; null once the service is gone
};

namespace {
coalesce::CacheOptions cache_options(const ServeConfig& config) {
  coalesce::CacheOptions options;
  options.ttl = config.ttl;
  options.max_stale = config.max_stale;
  options.ttl_jitter = 0.1;
  options.early_refresh_beta = 1.0;
  options.stale_while_revalidate = false;  // never older than the TTL while dependencies work
  options.error_backoff = std::chrono::milliseconds(100);
  options.max_entries = 10'000;
  return options;
}
}  // namespace

ServeService::ServeService(asio::any_io_executor executor, std::unique_ptr<redis::Commands> redis,
                           http::Upstream aggregator, ServeConfig config,
                           std::shared_ptr<metrics::Metrics> metrics)
    : config_(std::move(config)),
      redis_(std::move(redis)),
      aggregator_(executor, std::move(aggregator)),
      cache_(cache_options(config_), [](const Page& page) { return page.age; }),
      cache_control_("max-age=" + std::to_string(std::max<long long>(1, config_.ttl.count() / 1000))),
      stats_(std::make_shared<Stats>(this)) {
  metrics->add_collectable(stats_);
}

ServeService::~ServeService() { stats_->detach(); }

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

namespace {

std::string l2_prefix(const PageKey& key) { return "micq:{" + key.room_id + "}:l2:"; }
std::string l2_suffix(const PageKey& key) {
  return ":" + std::to_string(key.page) + ":" + std::to_string(key.size);
}
std::string l2_page_key(const PageKey& key, std::string_view version) {
  return l2_prefix(key) + std::string(version) + l2_suffix(key);
}
std::string l2_lock_key(const PageKey& key, std::string_view version) {
  return "micq:{" + key.room_id + "}:l2lock:" + std::string(version) + l2_suffix(key);
}

// The room's version and that version's shared page with its remaining
// life, in one round trip. Pages are keyed by version, so an applied event
// (which bumps it) retires every instance's shared pages of the room.
constexpr char kL2LookupScript[] = R"lua(
local version = redis.call('GET', KEYS[1]) or '0'
local page_key = ARGV[1] .. version .. ARGV[2]
return {version, redis.call('GET', page_key), redis.call('PTTL', page_key)}
)lua";

}  // namespace

asio::awaitable<std::optional<ServeService::L2Lookup>> ServeService::l2_lookup(const PageKey& key) {
  auto call = redis_->eval(kL2LookupScript, {version_key(key.room_id)}, {l2_prefix(key), l2_suffix(key)},
                           config_.upstream_timeout);
  auto reply = co_await std::move(call);
  if (!reply || reply->type != redis::Reply::Type::kArray || reply->elements.size() != 3) {
    stats_->redis_errors.fetch_add(1, std::memory_order_relaxed);
    co_return std::nullopt;
  }
  L2Lookup lookup;
  lookup.version = reply->elements[0].str;
  const redis::Reply& body = reply->elements[1];
  if (body.type == redis::Reply::Type::kString && !body.str.empty()) {
    Page page;
    page.etag = etag_of(body.str);
    if (config_.gzip_level > 0)
      page.gzip = std::make_shared<const std::string>(gzip_of(body.str, config_.gzip_level));
    page.body = std::make_shared<const std::string>(body.str);
    std::int64_t left_ms = std::max<std::int64_t>(0, reply->elements[2].integer);
    page.age = std::max(
        std::chrono::nanoseconds::zero(),
        std::chrono::nanoseconds(config_.ttl) - std::chrono::nanoseconds(std::chrono::milliseconds(left_ms)));
    std::from_chars(lookup.version.data(), lookup.version.data() + lookup.version.size(), page.version);
    lookup.page = std::move(page);
  }
  co_return lookup;
}

asio::awaitable<Page> ServeService::load_page(PageKey key) {
  if (!config_.l2) {
    auto build = build_page(key);
    co_return co_await std::move(build);
  }
  auto first = l2_lookup(key);
  std::optional<L2Lookup> lookup = co_await std::move(first);
  if (lookup && lookup->page) co_return std::move(*lookup->page);
  // One instance builds this version's page; the others wait for it.
  bool leader = false;
  std::string lock_key;
  if (lookup) {
    lock_key = l2_lock_key(key, lookup->version);
    redis::Command lock{"SET", lock_key, "1",
                        "NX",  "PX",     std::to_string(config_.upstream_timeout.count() * 2)};
    auto lock_call = redis_->command(std::move(lock), config_.upstream_timeout);
    auto locked = co_await std::move(lock_call);
    leader = locked && locked->type == redis::Reply::Type::kStatus;
    if (locked && !leader) {
      // Another instance is building it and its answer lands in Redis. This
      // connection has no Redis event to await, so look every 10 ms, for no
      // longer than a build may take, then build here after all.
      auto give_up = std::chrono::steady_clock::now() + config_.upstream_timeout * 2;
      asio::steady_timer timer(co_await asio::this_coro::executor);
      while (std::chrono::steady_clock::now() < give_up) {
        timer.expires_after(std::chrono::milliseconds(10));
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        auto again = l2_lookup(key);
        std::optional<L2Lookup> found = co_await std::move(again);
        if (found && found->page) co_return std::move(*found->page);
        if (found && found->version != lookup->version) break;  // an event moved the room on
      }
    }
  }
  auto started = std::chrono::steady_clock::now();
  auto build = build_page(key);
  Page page = co_await std::move(build);
  // Publish with the life the page has left, so that no instance serves it
  // longer than one TTL after it was built.
  auto spent =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  auto left = config_.ttl - spent;
  if (left.count() > 0) {
    std::vector<redis::Command> publish{{"SET", l2_page_key(key, std::to_string(page.version)), *page.body,
                                         "PX", std::to_string(left.count())}};
    if (leader) publish.push_back({"DEL", lock_key});
    auto publish_call = redis_->pipeline(std::move(publish), config_.upstream_timeout);
    auto published = co_await std::move(publish_call);
    if (!published) stats_->redis_errors.fetch_add(1, std::memory_order_relaxed);
  }
  co_return page;
}

asio::awaitable<Page> ServeService::build_page(PageKey key) {
  std::string rank = rank_key(key.room_id);
  long start = static_cast<long>(key.page) * key.size;
  std::vector<redis::Command> commands{
      {"ZREVRANGE", rank, std::to_string(start), std::to_string(start + key.size - 1), "WITHSCORES"},
      {"ZCARD", rank},
      {"GET", version_key(key.room_id)}};
  // Each awaitable is made in its own statement and then awaited: g++ 12
  // mishandles temporaries that live across a co_await in one expression.
  auto read_page = redis_->pipeline(std::move(commands), config_.upstream_timeout);
  auto replies = co_await std::move(read_page);
  if (!replies) {
    stats_->redis_errors.fetch_add(1, std::memory_order_relaxed);
    throw DependencyError("redis_unavailable", "Redis is unreachable: " + replies.error().message() + ".");
  }
  const auto& range = (*replies)[0];
  const auto& card = (*replies)[1];
  const auto& version = (*replies)[2];
  if (range.type != redis::Reply::Type::kArray || range.elements.size() % 2 != 0 ||
      card.type != redis::Reply::Type::kInteger ||
      (version.type != redis::Reply::Type::kString && version.type != redis::Reply::Type::kNil)) {
    stats_->redis_errors.fetch_add(1, std::memory_order_relaxed);
    throw DependencyError("redis_error", "Redis answered the page read with something unexpected.");
  }
  RankPage rank_page;
  rank_page.total = card.integer;
  if (version.type == redis::Reply::Type::kString) {
    std::from_chars(version.str.data(), version.str.data() + version.str.size(), rank_page.version);
  }
  std::vector<std::string> uids;
  for (std::size_t i = 0; i < range.elements.size(); i += 2) {
    RankEntry entry{range.elements[i].str, 0};
    parse_score(range.elements[i + 1].str, entry.score);
    uids.push_back(entry.uid);
    rank_page.entries.push_back(std::move(entry));
  }
  std::string privileges;
  if (!uids.empty()) {
    std::string batch = service::uid_batch_json(uids);
    auto call = aggregator_.request(http::Method::post, "/v1/privileges/batch", std::move(batch),
                                    config_.upstream_timeout);
    auto answer = co_await std::move(call);
    if (!answer || answer->result() != Status::ok) {
      stats_->aggregator_errors.fetch_add(1, std::memory_order_relaxed);
      throw DependencyError(
          "aggregator_unavailable",
          "The privilege aggregator failed: " +
              (answer ? "status " + std::to_string(answer->result_int()) : answer.error().message()) + ".");
    }
    privileges = std::move(answer->body());
  }
  auto body = build_page_body(config_.json, {key.room_id, key.page, key.size}, rank_page, privileges);
  if (!body) {
    stats_->aggregator_errors.fetch_add(1, std::memory_order_relaxed);
    throw DependencyError("aggregator_unavailable", "The privilege aggregator's answer is malformed.");
  }
  Page page;
  page.version = rank_page.version;
  page.etag = etag_of(*body);
  if (config_.strategy == Strategy::kCached) {
    if (config_.gzip_level > 0)
      page.gzip = std::make_shared<const std::string>(gzip_of(*body, config_.gzip_level));
    std::lock_guard lock(rooms_mu_);
    auto& keys = room_pages_[key.room_id];
    if (keys.size() > 4096) keys.clear();  // bounded; stale keys only cost a no-op invalidate
    keys.insert(key);
  }
  page.body = std::make_shared<const std::string>(std::move(*body));
  co_return page;
}

Response ServeService::page_response(const Page& page, const Request& request, bool stale,
                                     std::chrono::nanoseconds age) const {
  Response response;
  auto if_none_match = request.message[field::field::if_none_match];
  if (!if_none_match.empty() &&
      etag_matches(std::string_view(if_none_match.data(), if_none_match.size()), page.etag)) {
    response.result(Status::not_modified);
  } else {
    response.result(Status::ok);
    response.set(field::field::content_type, "application/json");
    auto accept = request.message[field::field::accept_encoding];
    if (config_.gzip_level > 0 && accepts_gzip(std::string_view(accept.data(), accept.size()))) {
      response.body() = page.gzip
                            ? page.gzip
                            : std::make_shared<const std::string>(gzip_of(*page.body, config_.gzip_level));
      response.set(field::field::content_encoding, "gzip");
    } else {
      response.body() = page.body;
    }
  }
  response.version(11);
  response.set(field::field::etag, page.etag);
  response.set(field::field::cache_control, cache_control_);
  response.set(field::field::vary, "Accept-Encoding");
  if (stale) {
    response.set(field::field::warning, "110 - \"stale\"");
    response.set(field::field::age,
                 std::to_string(std::chrono::duration_cast<std::chrono::seconds>(age).count()));
  }
  response.prepare_payload();
  return response;
}

asio::awaitable<Response> ServeService::mic_queue(Request& request) {
  std::string_view room = request.param("room_id");
  if (!service::is_valid_id(room)) {
    co_return http::error_response(Status::bad_request, "bad_room_id",
                                   "room_id must be 1 to 64 characters of [A-Za-z0-9_.-].");
  }
  auto query = parse_page_query(request.query, config_.page_size, config_.max_page_size);
  if (!query) {
    co_return http::error_response(Status::bad_request, "bad_" + query.error().parameter,
                                   query.error().message);
  }
  PageKey key{std::string(room), query->page, query->size};
  auto loader = [this, key] { return load_page(key); };

  coalesce::Result<Page> result;
  bool stale = false;
  std::chrono::nanoseconds age{0};
  switch (config_.strategy) {
    case Strategy::kCached: {
      // The hot path: no coroutine frame, no JSON, no copy of the body.
      if (auto hit = cache_.lookup_fresh(key)) co_return page_response(*hit->value, request, false, hit->age);
      auto get = cache_.get(key, loader, config_.upstream_timeout * 2);
      coalesce::CacheResult<Page> cached = co_await std::move(get);
      stale = cached.freshness == coalesce::Freshness::kStale;
      age = cached.age;
      result = std::move(cached);
      if (stale) stats_->stale_served.fetch_add(1, std::memory_order_relaxed);
      break;
    }
    case Strategy::kSingleflight: {
      auto run = group_.run(key, loader);
      result = co_await std::move(run);
      break;
    }
    case Strategy::kDirect: {
      stats_->direct_loads.fetch_add(1, std::memory_order_relaxed);
      try {
        auto load = load_page(key);
        Page page = co_await std::move(load);
        result.value = std::make_shared<const Page>(std::move(page));
      } catch (...) {
        result.status = coalesce::Status::kLoadFailed;
        result.error = std::current_exception();
      }
      break;
    }
  }
  if (result.ok()) co_return page_response(*result.value, request, stale, age);
  if (result.status == coalesce::Status::kLoadFailed && result.error) {
    try {
      std::rethrow_exception(result.error);
    } catch (const DependencyError& e) {
      co_return http::error_response(Status::service_unavailable, e.code, e.what());
    } catch (const std::exception& e) {
      spdlog::warn("page load failed: {}", e.what());
    }
  }
  co_return http::error_response(Status::service_unavailable, "upstream_unavailable",
                                 "The page could not be loaded and nothing servable is cached.");
}

void ServeService::invalidate_room(const std::string& room_id) {
  std::unordered_set<PageKey, PageKeyHash> keys;
  {
    std::lock_guard lock(rooms_mu_);
    auto it = room_pages_.find(room_id);
    if (it == room_pages_.end()) return;
    keys.swap(it->second);
    room_pages_.erase(it);
  }
  for (const PageKey& key : keys) cache_.invalidate(key);
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
  if (!service::is_valid_id(room)) {
    co_return http::error_response(Status::bad_request, "bad_room_id",
                                   "room_id must be 1 to 64 characters of [A-Za-z0-9_.-].");
  }
  std::vector<std::string> keys{rank_key(room), version_key(room)};
  auto idempotency = request.message["Idempotency-Key"];
  if (request.message.find("Idempotency-Key") != request.message.end()) {
    std::string_view value(idempotency.data(), idempotency.size());
    if (!is_valid_idempotency_key(value)) {
      co_return http::error_response(Status::bad_request, "bad_idempotency_key",
                                     "Idempotency-Key must be 1 to 128 printable characters.");
    }
    keys.push_back(idempotency_key(room, value));
  }
  auto parsed = parse_events(request.message.body());
  if (!parsed) co_return http::error_response(Status::bad_request, "bad_events", parsed.error());
  std::vector<std::string> args;
  args.reserve(parsed->size() * 3);
  for (const Event& event : *parsed) {
    args.emplace_back(type_name(event.type));
    args.push_back(event.uid);
    args.push_back(std::to_string(event.increment));
  }
  auto apply = redis_->eval(kApplyEventsScript, std::move(keys), std::move(args), config_.upstream_timeout);
  auto reply = co_await std::move(apply);
  if (!reply) {
    stats_->redis_errors.fetch_add(1, std::memory_order_relaxed);
    co_return http::error_response(Status::service_unavailable, "redis_unavailable",
                                   "Redis is unreachable; nothing was applied.");
  }
  if (reply->type != redis::Reply::Type::kArray || reply->elements.size() != 2 ||
      reply->elements[1].type != redis::Reply::Type::kString) {
    stats_->redis_errors.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("events script answered unexpectedly: {}", reply->str);
    co_return http::error_response(Status::service_unavailable, "redis_error", "Redis refused the events.");
  }
  invalidate_room(room);
  co_return http::json_response(Status::ok, reply->elements[1].str);
}

asio::awaitable<Response> ServeService::readyz(Request&) {
  auto ping_call = redis_->command(redis::Command{"PING"}, config_.upstream_timeout);
  auto ping = co_await std::move(ping_call);
  bool redis_ok = ping && !ping->is_error();
  auto health_call = aggregator_.request(http::Method::get, "/healthz", "", config_.upstream_timeout);
  auto health = co_await std::move(health_call);
  bool aggregator_ok = health && health->result() == Status::ok;
  if (redis_ok && aggregator_ok)
    co_return http::json_response(Status::ok, std::string(R"({"status":"ready"})"));
  std::string down = !redis_ok && !aggregator_ok ? "redis and the aggregator are"
                     : !redis_ok                 ? "redis is"
                                                 : "the aggregator is";
  co_return http::error_response(Status::service_unavailable, "not_ready", down + " not answering.");
}

}  // namespace micq::serve
