#include "page_builder.h"

#include <algorithm>

namespace micq::serve {

namespace asio = boost::asio;

namespace {

std::vector<std::string> uids_of(const RankPage& page) {
  std::vector<std::string> uids;
  uids.reserve(page.entries.size());
  for (const auto& entry : page.entries) uids.push_back(entry.uid);
  return uids;
}

ApiError malformed_answer() {
  return ApiError::unavailable("aggregator_unavailable", "The privilege aggregator's answer is malformed.");
}

// The kinds missing from any of `records` (PrivilegeRecord or CachedRecord
// pointers), each once, in first-seen order.
template <class Records, class RecordOf>
std::vector<std::string> union_of_degraded(const Records& records, RecordOf record_of) {
  std::vector<std::string> kinds;
  const std::vector<std::string>* last = nullptr;
  for (const auto& each : records) {
    const DegradedKinds& degraded = record_of(each).degraded;
    if (!degraded || degraded.get() == last) continue;  // a batch's records share one list
    last = degraded.get();
    for (const auto& kind : *degraded) {
      if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(kind);
    }
  }
  return kinds;
}

}  // namespace

Page finish_page(std::string body, std::int64_t version, const BuildOptions& options) {
  Page page;
  page.version = version;
  page.etag = etag_of(body);
  if (options.kept && options.gzip_level > 0) {
    page.gzip = std::make_shared<LazyGzip>(options.gzip_level);
  }
  if (options.kept) page.heads = std::make_shared<PreparedHeads>();
  page.sealed = options.kept && options.sendfile_min_bytes > 0 && body.size() >= options.sendfile_min_bytes;
  page.body = std::make_shared<const std::string>(std::move(body));
  return page;
}

asio::awaitable<ApiResult<Page>> BatchPageBuilder::build(PageKey key, RecordNeed) {
  auto read = rooms_.read_page(key.room_id, key.page, key.size);
  ApiResult<RankPage> rank_page = co_await std::move(read);
  if (!rank_page) co_return rank_page.error();
  std::vector<std::string> uids = uids_of(*rank_page);
  PageRequest request{key.room_id, key.page, key.size};
  if (uids.size() > kMaxBatchUids) {
    // More users than one batch may carry: per-user records, assembled.
    auto fetch = privileges_.records(uids, RecordsScope{});
    auto records = co_await std::move(fetch);
    if (!records) co_return records.error();
    std::vector<std::string_view> views;
    for (const auto& record : *records) views.push_back(record.json);
    auto degraded =
        union_of_degraded(*records, [](const PrivilegeRecord& r) -> const PrivilegeRecord& { return r; });
    auto body = assemble_page_body(options_.json, request, *rank_page, views, degraded);
    if (!body) co_return malformed_answer();
    co_return finish_page(std::move(*body), rank_page->version, options_);
  }
  std::string answer;
  if (!uids.empty()) {
    auto call = privileges_.batch_body(std::move(uids));
    ApiResult<std::string> fetched = co_await std::move(call);
    if (!fetched) co_return fetched.error();
    answer = std::move(*fetched);
  }
  auto body = build_page_body(options_.json, request, *rank_page, answer);
  if (!body) co_return malformed_answer();
  co_return finish_page(std::move(*body), rank_page->version, options_);
}

asio::awaitable<ApiResult<Page>> LivePageBuilder::build(PageKey key, RecordNeed need) {
  auto read = rooms_.read_page(key.room_id, key.page, key.size);
  ApiResult<RankPage> rank_page = co_await std::move(read);
  if (!rank_page) co_return rank_page.error();
  PageRecords records;
  records.oldest_fetch = clock_->now();
  if (!rank_page->entries.empty()) {
    auto take = records_.get(uids_of(*rank_page), need, key.room_id);
    ApiResult<PageRecords> taken = co_await std::move(take);
    if (!taken) co_return taken.error();
    records = std::move(*taken);
  }
  std::vector<std::string_view> views;
  views.reserve(records.records.size());
  for (const auto& cached : records.records) views.push_back(cached->record.json);
  PageRequest request{key.room_id, key.page, key.size};
  auto degraded = union_of_degraded(
      records.records, [](const auto& cached) -> const PrivilegeRecord& { return cached->record; });
  auto body = assemble_page_body(options_.json, request, *rank_page, views, degraded);
  if (!body) co_return malformed_answer();
  Page page = finish_page(std::move(*body), rank_page->version, options_);
  page.age = std::max(coalesce::Duration::zero(), clock_->now() - records.oldest_fetch);
  page.refresh_lead = records.lead;
  co_return page;
}

asio::awaitable<ApiResult<Page>> AdmittedBuilder::build(PageKey key, RecordNeed need) {
  auto admitting = admission_.acquire();
  std::optional<Admission::Permit> permit = co_await std::move(admitting);
  if (!permit) co_return overloaded_error("page builds");
  auto building = inner_.build(std::move(key), need);
  ApiResult<Page> page = co_await std::move(building);
  co_return page;
}

}  // namespace micq::serve
