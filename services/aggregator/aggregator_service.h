// The privilege aggregation service (SPEC §3): one batch of uids in, one
// concurrent call per configured kind out, each under its own deadline; a
// kind that fails or is late is left out and listed in degraded_kinds, so
// a batch never waits past the deadline.
//
// Thread safety: handlers run concurrently on the server's threads.
#ifndef MICQ_AGGREGATOR_AGGREGATOR_SERVICE_H_
#define MICQ_AGGREGATOR_AGGREGATOR_SERVICE_H_

#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "downstream_metrics.h"
#include "merge.h"
#include "micq/http/client.h"
#include "micq/http/router.h"

namespace micq::aggregator {

class AggregatorService {
 public:
  // Downstream call metrics are registered in `registry`.
  AggregatorService(boost::asio::any_io_executor executor, http::Upstream downstream,
                    std::vector<std::string> kinds, std::chrono::milliseconds timeout,
                    prometheus::Registry& registry);

  // POST /v1/privileges/batch, GET /stats.
  void add_routes(http::Router& router);

 private:
  // One kind's call: its answer, how it ended and how long it took.
  struct KindCall {
    KindAnswer answer;
    DownstreamMetrics::Outcome outcome = DownstreamMetrics::Outcome::kError;
    double seconds = 0;
  };
  struct Fanout;
  boost::asio::awaitable<http::Response> batch(http::Request& request);
  boost::asio::awaitable<http::Response> stats(http::Request& request);
  boost::asio::awaitable<KindCall> fetch_kind(std::size_t kind_index,
                                              std::shared_ptr<const std::string> body);

  const std::vector<std::string> kinds_;
  const std::vector<std::string> kind_targets_;  // "/v1/kinds/<kind>/batch"
  const std::chrono::milliseconds timeout_;
  http::ClientPool downstream_;
  DownstreamMetrics metrics_;
  std::atomic<std::uint64_t> batches_total_{0};
  std::atomic<std::uint64_t> downstream_requests_total_{0};
};

}  // namespace micq::aggregator

#endif  // MICQ_AGGREGATOR_AGGREGATOR_SERVICE_H_
