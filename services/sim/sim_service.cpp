#include "sim_service.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cmath>
#include <random>

#include "micq/service/ids.h"
#include "micq/service/json_splice.h"
#include "micq/service/uid_batch.h"
#include "record.h"

namespace micq::sim {

namespace asio = boost::asio;
using http::Request;
using http::Response;
using http::Status;

namespace {

constexpr std::size_t kMaxBatchUids = 1000;
constexpr auto kTimeoutHold = std::chrono::seconds(10);

std::mt19937_64& rng() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return generator;
}

// Log-normal around the median: long-tailed like real services.
std::chrono::microseconds draw_latency(const SimConfig& config) {
  if (config.latency_ms <= 0) return std::chrono::microseconds(0);
  double sigma = std::log1p(std::max(0.0, config.jitter_ms) / config.latency_ms);
  std::normal_distribution<double> normal(0.0, 1.0);
  double ms = config.latency_ms * std::exp(sigma * normal(rng()));
  return std::chrono::microseconds(static_cast<std::int64_t>(std::min(ms, 60'000.0) * 1000.0));
}

asio::awaitable<void> pause(std::chrono::microseconds how_long) {
  if (how_long.count() <= 0) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor, how_long);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace

SimService::SimService(std::vector<std::string> kinds, SimConfig config, std::size_t max_bumped_users)
    : kinds_(std::move(kinds)),
      config_(config),
      max_bumped_users_(max_bumped_users),
      requests_by_kind_(std::make_unique<std::atomic<std::uint64_t>[]>(kinds_.size())) {
  for (std::size_t i = 0; i < kinds_.size(); ++i) kind_index_.emplace(kinds_[i], i);
}

SimConfig SimService::config() const {
  sync::MutexLock lock(config_mu_);
  return config_;
}

void SimService::add_routes(http::Router& router) {
  router.add(http::Method::post, "/v1/kinds/{kind}/batch", "kind_batch",
             [this](Request& r) { return batch(r); });
  router.add(http::Method::post, "/admin/users/{uid}/bump", "admin_bump",
             [this](Request& r) { return bump(r); });
  router.add(http::Method::post, "/admin/config", "admin_config",
             [this](Request& r) { return set_config(r); });
  router.add(http::Method::get, "/stats", "stats", [this](Request& r) { return stats(r); });
  router.add(http::Method::post, "/admin/reset-stats", "admin_reset_stats",
             [this](Request& r) { return reset_stats(r); });
}

std::uint64_t SimService::gen_of(std::string_view uid) const {
  sync::ReaderLock lock(gens_mu_);
  auto it = gens_.find(std::string(uid));
  return it == gens_.end() ? 0 : it->second;
}

asio::awaitable<Response> SimService::batch(Request& request) {
  std::string_view kind = request.param("kind");
  auto index = kind_index_.find(std::string(kind));
  if (index == kind_index_.end()) {
    co_return http::error_response(Status::not_found, "unknown_kind",
                                   "This simulator does not serve that kind.");
  }
  auto uids = service::parse_uid_batch(request.message.body(), kMaxBatchUids);
  if (!uids) co_return http::error_response(Status::bad_request, "bad_body", uids.error());
  requests_total_.fetch_add(1, std::memory_order_relaxed);
  requests_by_kind_[index->second].fetch_add(1, std::memory_order_relaxed);

  SimConfig config = this->config();
  double roll = std::uniform_real_distribution<double>(0.0, 1.0)(rng());
  if (roll < config.timeout_rate) {
    co_await pause(kTimeoutHold);
    co_return http::error_response(Status::gateway_timeout, "simulated_timeout", "Simulated timeout.");
  }
  co_await pause(draw_latency(config));
  if (roll < config.timeout_rate + config.error_rate) {
    co_return http::error_response(Status::internal_server_error, "simulated_error", "Simulated failure.");
  }

  std::string body;
  body.reserve(static_cast<std::size_t>(config.payload_bytes + 64) * uids->size() + 32);
  service::StringOutput out(body);
  service::SplicingWriter writer(out);
  writer.StartObject();
  writer.Key("users");
  writer.StartObject();
  for (const std::string& uid : *uids) {
    writer.Key(uid.data(), static_cast<rapidjson::SizeType>(uid.size()));
    auto record = records_.get({kind, uid, gen_of(uid)}, config.payload_bytes);
    writer.RawValue(record->data(), record->size(), rapidjson::kObjectType);
  }
  writer.EndObject();
  writer.EndObject();
  co_return http::json_response(Status::ok, std::move(body));
}

asio::awaitable<Response> SimService::bump(Request& request) {
  std::string uid(request.param("uid"));
  if (!service::is_valid_id(uid)) {
    co_return http::error_response(Status::bad_request, "bad_uid", service::invalid_id_message("uid"));
  }
  std::uint64_t gen = 0;
  {
    sync::WriterLock lock(gens_mu_);
    auto it = gens_.find(uid);
    if (it == gens_.end() && gens_.size() < max_bumped_users_) it = gens_.emplace(uid, 0).first;
    if (it != gens_.end()) gen = ++it->second;
  }
  if (gen == 0) {
    co_return http::error_response(
        Status::insufficient_storage, "too_many_users",
        "The simulator remembers at most " + std::to_string(max_bumped_users_) + " bumped users.");
  }
  co_return http::json_response(Status::ok, R"({"uid":")" + uid + R"(","gen":)" + std::to_string(gen) + "}");
}

asio::awaitable<Response> SimService::set_config(Request& request) {
  auto next = parse_config_update(request.message.body(), config());
  if (!next) co_return http::error_response(Status::bad_request, "bad_body", next.error());
  {
    sync::MutexLock lock(config_mu_);
    config_ = *next;
  }
  co_return http::json_response(Status::ok, config_json(*next));
}

std::string SimService::stats_json() const {
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  writer.StartObject();
  writer.Key("requests_total");
  writer.Uint64(requests_total_.load(std::memory_order_relaxed));
  writer.Key("by_kind");
  writer.StartObject();
  for (std::size_t i = 0; i < kinds_.size(); ++i) {
    writer.Key(kinds_[i].c_str());
    writer.Uint64(requests_by_kind_[i].load(std::memory_order_relaxed));
  }
  writer.EndObject();
  writer.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

asio::awaitable<Response> SimService::stats(Request&) {
  co_return http::json_response(Status::ok, stats_json());
}

asio::awaitable<Response> SimService::reset_stats(Request&) {
  requests_total_.store(0, std::memory_order_relaxed);
  for (std::size_t i = 0; i < kinds_.size(); ++i) requests_by_kind_[i].store(0, std::memory_order_relaxed);
  co_return http::json_response(Status::ok, stats_json());
}

}  // namespace micq::sim
