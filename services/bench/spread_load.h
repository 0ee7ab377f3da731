// Spreading an open-loop run over threads, for loads one thread cannot
// send and read: the calling coroutine's thread plus threads-1 more, each
// with its own io_context and connection pool, each sending 1/threads of
// the rate on its own schedule (its own seed). Nothing is shared between
// them but the plan's on_answer hook, which must be thread-safe when
// threads > 1.
#ifndef MICQ_BENCH_SPREAD_LOAD_H_
#define MICQ_BENCH_SPREAD_LOAD_H_

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "micq/http/client.h"
#include "micq/loadgen/latency_histogram.h"
#include "open_loop.h"

namespace micq::bench {

using SpreadResults = std::vector<OpenLoopResult>;

// Runs `plan` on `results->size()` threads ((*results)[0] on this
// coroutine's thread, through `here`). Completes, without blocking this
// thread, when every thread's run has completed. The results may be read
// for progress meanwhile (their counters are atomic); helpers share them,
// so they stay valid however this coroutine ends.
boost::asio::awaitable<void> run_spread_load(http::ClientPool& here, http::Upstream upstream,
                                             http::ClientOptions options, OpenLoopPlan plan,
                                             std::shared_ptr<SpreadResults> results);

// Stops and joins the helper threads of every spread load still running,
// so none of them reports back afterwards. For shutdown: call on the
// waiter's thread once its io_context has stopped, before destroying it.
void stop_spread_loads();

// The runs' results added up (after they completed).
struct SpreadTotals {
  loadgen::LatencyHistogram latency;
  std::uint64_t scheduled = 0, ok = 0, not_modified = 0, errors = 0, in_flight = 0;
  std::map<std::string, std::uint64_t> error_kinds;
};
// Counters only (safe while the runs go on).
SpreadTotals count(const SpreadResults& results);
// Counters, latencies and error kinds (once the runs completed).
SpreadTotals merge(const SpreadResults& results);

}  // namespace micq::bench

#endif  // MICQ_BENCH_SPREAD_LOAD_H_
