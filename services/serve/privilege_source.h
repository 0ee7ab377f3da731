// PrivilegeSource: where a user's privilege records come from (SPEC §3):
// the aggregator's batch API behind an interface, so the per-user cache
// and the page builders can be tested with a fake.
//
//  * batch_body(): one aggregator batch (at most 200 uids), its answer's
//    raw JSON — what the batch page builder of the direct, singleflight and
//    plain-TTL strategies splices whole;
//  * records(): any number of uids, one record per uid (split into batches
//    of 200), each user's object as its raw JSON text, with the kinds the
//    batch reported degraded.
//
// Thread safety: implementations allow concurrent calls. Each call must be
// awaited from a coroutine whose executor runs one handler at a time (a
// strand or a one-thread io_context), as http::ClientPool requires.
#ifndef MICQ_SERVE_PRIVILEGE_SOURCE_H_
#define MICQ_SERVE_PRIVILEGE_SOURCE_H_

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "admission.h"
#include "api_error.h"
#include "micq/http/client.h"

namespace micq::serve {

// The aggregator's batch limit (SPEC §3).
inline constexpr std::size_t kMaxBatchUids = 200;

// Kinds one batch reported degraded, shared by every record of the batch.
using DegradedKinds = std::shared_ptr<const std::vector<std::string>>;

struct PrivilegeRecord {
  std::string json;        // the user's {"kind":{...},...} object, raw; "{}" if none came
  DegradedKinds degraded;  // null when the batch had every kind
  // How old it was when handed over: zero from the aggregator, the shared
  // copy's age when another instance fetched it (fleet_records.h).
  std::chrono::nanoseconds age{0};
};

// What a records() call is for, so that a source shared by a fleet can
// look in the room's shared records first.
struct RecordsScope {
  std::string room;                        // the page's room; empty: none (nothing is shared)
  std::chrono::nanoseconds accept_age{0};  // a shared record at most this old will do
};

class PrivilegeSource {
 public:
  virtual ~PrivilegeSource() = default;
  // REQUIRES: 1..kMaxBatchUids uids.
  virtual boost::asio::awaitable<ApiResult<std::string>> batch_body(std::vector<std::string> uids) = 0;
  // One record per uid, in order. REQUIRES: at least one uid. The default
  // asks batch_body() (ignoring `scope`).
  virtual boost::asio::awaitable<ApiResult<std::vector<PrivilegeRecord>>> records(
      std::vector<std::string> uids, RecordsScope scope);

  // Failed or malformed batches so far (for /metrics).
  std::uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }

 protected:
  void count_error() { errors_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> errors_{0};
};

// Splits an aggregator answer ({"users":{...},"degraded_kinds":[...]}) into
// one record per uid of `uids` (a uid the answer lacks gets "{}"). The
// error says what is malformed.
boost::system::result<std::vector<PrivilegeRecord>, std::string> split_privileges(
    std::string& answer, const std::vector<std::string>& uids);

// The aggregator over HTTP. With `admission`, each batch is admitted
// through it first (a batch not admitted is 429 overloaded, the aggregator
// never asked); it must outlive this.
class AggregatorPrivileges final : public PrivilegeSource {
 public:
  AggregatorPrivileges(boost::asio::any_io_executor executor, http::Upstream aggregator,
                       std::chrono::milliseconds timeout, Admission* admission = nullptr);

  boost::asio::awaitable<ApiResult<std::string>> batch_body(std::vector<std::string> uids) override;

  http::ClientPool& client() { return client_; }
  // Requests the pool sent again after a pooled connection had closed.
  std::uint64_t client_retries() const { return client_.retries(); }

 private:
  http::ClientPool client_;
  const std::chrono::milliseconds timeout_;
  Admission* const admission_;
};

}  // namespace micq::serve

#endif  // MICQ_SERVE_PRIVILEGE_SOURCE_H_
