#include "privilege_source.h"

#include <optional>

#include "aggregator_answer.h"
#include "micq/http/router.h"
#include "micq/service/uid_batch.h"

namespace micq::serve {

namespace asio = boost::asio;

boost::system::result<std::vector<PrivilegeRecord>, std::string> split_privileges(
    std::string& answer, const std::vector<std::string>& uids) {
  using Split = boost::system::result<std::vector<PrivilegeRecord>, std::string>;
  auto malformed = [] {
    return Split(boost::system::in_place_error, "the aggregator's answer is malformed");
  };
  if (answer.empty()) return malformed();
  std::vector<std::string_view> uid_views(uids.begin(), uids.end());
  LocatedPrivileges located;
  if (!locate_privileges(answer, uid_views, located)) return malformed();
  auto degraded = kind_names(located.degraded);
  if (!degraded) return malformed();
  DegradedKinds shared_degraded;
  if (!degraded->empty())
    shared_degraded = std::make_shared<const std::vector<std::string>>(std::move(*degraded));
  std::vector<PrivilegeRecord> records(uids.size());
  for (std::size_t i = 0; i < uids.size(); ++i) {
    records[i].json = located.records[i].empty() ? std::string("{}") : std::string(located.records[i]);
    records[i].degraded = shared_degraded;
  }
  return Split(boost::system::in_place_value, std::move(records));
}

asio::awaitable<ApiResult<std::vector<PrivilegeRecord>>> PrivilegeSource::records(
    std::vector<std::string> uids, RecordsScope) {
  std::vector<PrivilegeRecord> all;
  all.reserve(uids.size());
  for (std::size_t from = 0; from < uids.size(); from += kMaxBatchUids) {
    std::size_t to = std::min(uids.size(), from + kMaxBatchUids);
    std::vector<std::string> chunk(uids.begin() + static_cast<std::ptrdiff_t>(from),
                                   uids.begin() + static_cast<std::ptrdiff_t>(to));
    auto call = batch_body(chunk);
    ApiResult<std::string> answer = co_await std::move(call);
    if (!answer) co_return answer.error();
    auto split = split_privileges(*answer, chunk);
    if (!split) count_error();
    if (!split)
      co_return ApiError::unavailable("aggregator_unavailable",
                                      "The privilege aggregator's answer is malformed.");
    for (auto& record : *split) all.push_back(std::move(record));
  }
  co_return all;
}

AggregatorPrivileges::AggregatorPrivileges(asio::any_io_executor executor, http::Upstream aggregator,
                                           std::chrono::milliseconds timeout, Admission* admission)
    : client_(std::move(executor), std::move(aggregator)), timeout_(timeout), admission_(admission) {}

asio::awaitable<ApiResult<std::string>> AggregatorPrivileges::batch_body(std::vector<std::string> uids) {
  std::optional<Admission::Permit> permit;
  if (admission_) {
    auto admitting = admission_->acquire();
    permit = co_await std::move(admitting);
    if (!permit) co_return overloaded_error("aggregator batches");
  }
  std::string batch = service::uid_batch_json(uids);
  auto call = client_.request(http::Method::post, "/v1/privileges/batch", std::move(batch), timeout_);
  auto answer = co_await std::move(call);
  if (!answer || answer->result() != http::Status::ok) {
    count_error();
    co_return ApiError::unavailable(
        "aggregator_unavailable",
        "The privilege aggregator failed: " +
            (answer ? "status " + std::to_string(answer->result_int()) : answer.error().message()) + ".");
  }
  co_return std::move(answer->body());
}

}  // namespace micq::serve
