#include "aggregator_service.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>

#include "micq/service/uid_batch.h"

namespace micq::aggregator {

namespace asio = boost::asio;
using http::Request;
using http::Response;
using http::Status;

namespace {

constexpr std::size_t kMaxBatchUids = 200;

std::vector<std::string> targets_for(const std::vector<std::string>& kinds) {
  std::vector<std::string> targets;
  targets.reserve(kinds.size());
  for (const auto& kind : kinds) targets.push_back("/v1/kinds/" + kind + "/batch");
  return targets;
}

}  // namespace

AggregatorService::AggregatorService(asio::any_io_executor executor, http::Upstream downstream,
                                     std::vector<std::string> kinds, std::chrono::milliseconds timeout,
                                     prometheus::Registry& registry)
    : kinds_(std::move(kinds)),
      kind_targets_(targets_for(kinds_)),
      timeout_(timeout),
      downstream_(std::move(executor), std::move(downstream)),
      metrics_(registry, kinds_) {}

void AggregatorService::add_routes(http::Router& router) {
  router.add(http::Method::post, "/v1/privileges/batch", "privileges_batch",
             [this](Request& r) { return batch(r); });
  router.add(http::Method::get, "/stats", "stats", [this](Request& r) { return stats(r); });
}

asio::awaitable<AggregatorService::KindCall> AggregatorService::fetch_kind(
    std::size_t kind_index, std::shared_ptr<const std::string> body) {
  KindCall call;
  call.answer.kind = kinds_[kind_index];
  downstream_requests_total_.fetch_add(1, std::memory_order_relaxed);
  const auto started = std::chrono::steady_clock::now();
  auto response =
      co_await downstream_.request(http::Method::post, kind_targets_[kind_index], *body, timeout_);
  call.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (response && response->result() == Status::ok) {
    call.answer.ok = true;
    call.answer.body = std::move(response->body());
    call.outcome = DownstreamMetrics::Outcome::kOk;  // unless the merge finds it malformed
  } else if (!response && response.error() == boost::beast::error::timeout) {
    call.outcome = DownstreamMetrics::Outcome::kTimeout;
  }
  co_return call;
}

// The answers of one batch's calls, filled in as they complete. Every call
// runs on the batch's executor (its connection's strand, or the only
// thread), so the count needs no lock.
struct AggregatorService::Fanout {
  explicit Fanout(const asio::any_io_executor& executor, std::size_t calls)
      : calls(calls), pending(calls), all_done(executor, asio::steady_timer::time_point::max()) {}
  std::vector<KindCall> calls;
  std::size_t pending;
  asio::steady_timer all_done;  // cancelled by the last call to finish
};

asio::awaitable<Response> AggregatorService::batch(Request& request) {
  auto uids = service::parse_uid_batch(request.message.body(), kMaxBatchUids);
  if (!uids) co_return http::error_response(Status::bad_request, "bad_body", uids.error());
  batches_total_.fetch_add(1, std::memory_order_relaxed);

  auto body = std::make_shared<const std::string>(service::uid_batch_json(*uids));
  auto executor = co_await asio::this_coro::executor;
  auto fanout = std::make_shared<Fanout>(executor, kinds_.size());
  // One coroutine per kind, each with its own deadline, so waiting for all
  // of them never waits past the batch's deadline. (A plain count instead of
  // a parallel_group: the group's per-call cancellation slots were ~4% of
  // the aggregator's instructions, and nothing cancels a batch.)
  for (std::size_t k = 0; k < kinds_.size(); ++k) {
    asio::co_spawn(executor, fetch_kind(k, body),
                   [fanout, k](const std::exception_ptr& error, KindCall call) {
                     if (!error) fanout->calls[k] = std::move(call);
                     if (--fanout->pending == 0) fanout->all_done.cancel();
                   });
  }
  while (fanout->pending > 0) {
    auto [ec] = co_await fanout->all_done.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;  // cancelled by the last call (or by something else: the loop checks)
  }
  std::vector<KindAnswer> answers(kinds_.size());
  for (std::size_t k = 0; k < kinds_.size(); ++k) {
    answers[k] = std::move(fanout->calls[k].answer);
    if (answers[k].kind.empty()) answers[k].kind = kinds_[k];  // the call threw
  }
  std::string merged = merge_privileges(*uids, answers);
  for (std::size_t k = 0; k < kinds_.size(); ++k) {
    auto outcome = fanout->calls[k].outcome;
    // The merge leaves out (ok = false) an answer that is not the expected JSON.
    if (outcome == DownstreamMetrics::Outcome::kOk && !answers[k].ok)
      outcome = DownstreamMetrics::Outcome::kMalformed;
    metrics_.observe(k, outcome, fanout->calls[k].seconds);
  }
  co_return http::json_response(Status::ok, std::move(merged));
}

asio::awaitable<Response> AggregatorService::stats(Request&) {
  co_return http::json_response(
      Status::ok, R"({"batches_total":)" + std::to_string(batches_total_.load(std::memory_order_relaxed)) +
                      R"(,"downstream_requests_total":)" +
                      std::to_string(downstream_requests_total_.load(std::memory_order_relaxed)) + "}");
}

}  // namespace micq::aggregator
