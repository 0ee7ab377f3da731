#include <atomic>

#include "micq/coalesce/cache.h"
#include "micq/coalesce/group.h"
#include "page_source.h"

namespace micq::serve {

namespace asio = boost::asio;

namespace {

class DirectSource final : public PageSource {
 public:
  explicit DirectSource(PageBuilder& builder) : builder_(builder) {}

  asio::awaitable<ApiResult<ServedPage>> get(PageKey key) override {
    loads_.fetch_add(1, std::memory_order_relaxed);
    auto building = builder_.build(std::move(key), RecordNeed::kRefreshOld);
    ApiResult<Page> page = co_await std::move(building);
    if (!page) co_return page.error();
    co_return ServedPage{std::make_shared<const Page>(std::move(*page))};
  }

  SourceStats stats() const override {
    SourceStats s;
    s.loads_started = s.load_waits = loads_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  PageBuilder& builder_;
  std::atomic<std::uint64_t> loads_{0};
};

class SingleflightSource final : public PageSource {
 public:
  explicit SingleflightSource(PageBuilder& builder) : builder_(builder) {}

  asio::awaitable<ApiResult<ServedPage>> get(PageKey key) override {
    waits_.fetch_add(1, std::memory_order_relaxed);
    // A failed build returns its ApiError, which every waiter reads as is.
    auto loader = [this, key] { return builder_.build(key, RecordNeed::kRefreshOld); };
    auto run = group_.run(key, loader);
    coalesce::Result<Page> result = co_await std::move(run);
    if (!result.ok()) co_return api_error_of(result);
    co_return ServedPage{std::move(result.value)};
  }

  SourceStats stats() const override {
    coalesce::GroupStats group = group_.stats();
    SourceStats s;
    s.loads_started = group.loads_started;
    s.callers_coalesced = group.callers_coalesced;
    s.load_waits = waits_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  PageBuilder& builder_;
  coalesce::Group<PageKey, Page, PageKeyHash> group_;
  std::atomic<std::uint64_t> waits_{0};
};

coalesce::CacheOptions cache_options(const CachedSourceOptions& options) {
  coalesce::CacheOptions cache;
  cache.ttl = options.ttl;
  cache.max_stale = options.max_stale;
  cache.ttl_jitter = 0.1;
  cache.early_refresh_beta = 1.0;
  // A hot page is rebuilt before it expires, every time: within 2 x its
  // longest rebuild (a privilege batch included) of expiry, and never later
  // than 10% of the TTL before it (20 ms at least), which covers a
  // long-tailed batch slower than the last and a busy machine's delays.
  cache.refresh_window_factor = 2.0;
  cache.refresh_window_min = std::chrono::milliseconds(20);
  cache.refresh_window_ttl_share = 0.1;
  cache.stale_while_revalidate = false;  // never older than the TTL while dependencies work
  cache.error_backoff = std::chrono::milliseconds(100);
  cache.max_entries = options.max_pages;
  return cache;
}

class CachedSource final : public PageSource {
  // The loader of one page: builds it and, with live rooms, tells the
  // scheduler the page is cached (so the room's events rebuild it).
  struct Loader {
    CachedSource* source;
    PageKey key;
    RecordNeed need;
    asio::awaitable<ApiResult<Page>> operator()() const { return source->load(key, need); }
  };
  Loader loader(PageKey key, RecordNeed need) { return Loader{this, std::move(key), need}; }

 public:
  CachedSource(PageBuilder& builder, PrivilegeCache* records, const CachedSourceOptions& options)
      : builder_(builder),
        records_(records),
        channels_(records ? options.channels : nullptr),
        wait_limit_(options.wait_limit),
        cache_(
            cache_options(options), [](const Page& page) { return page.age; },
            [](const Page& page) { return page.refresh_lead; }) {
    if (records_) {
      // Twice the pages the cache holds: pages evicted from it are forgotten
      // as the bound is reached. A room is listened to while tracked.
      RebuildScheduler::RoomsWatch watch;
      if (channels_) {
        watch = [channels = channels_](const std::string& room, bool tracked) {
          tracked ? channels->hold(room) : channels->release(room);
        };
      }
      rebuilds_.emplace(
          options.executor, options.rebuild_interval, 2 * options.max_pages,
          [this](PageKey key) { return rebuild(std::move(key)); },
          [this](const PageKey& key) { return cache_.contains(key); }, std::move(watch));
    }
    if (channels_) {
      channels_->set_handlers(RoomChannelHandlers{
          [this](const std::string& room, std::optional<std::int64_t> version) {
            rebuilds_->room_changed(room, version);
          },
          [this](const std::string& room, std::int64_t version, const std::vector<std::string>& uids) {
            // Before the rebuild the same version's `changed` brings; not
            // for a version this instance applied (it invalidated them).
            if (!rebuilds_->is_new_version(room, version)) return;
            for (const auto& uid : uids) records_->invalidate(uid);
          },
          [this](const std::string& room, std::int64_t version) {
            rebuilds_->room_caught_up(room, version);
          }});
    }
  }

  ~CachedSource() override {
    if (channels_) channels_->set_handlers({});
  }

  std::optional<ServedPage> lookup(const PageKey& key) override {
    auto hit = cache_.lookup_fresh(key);
    if (!hit) return std::nullopt;
    return ServedPage{std::move(hit->value), false, hit->age};
  }

  asio::awaitable<ApiResult<ServedPage>> get(PageKey key) override {
    auto getting = cache_.get(key, loader(key, RecordNeed::kRefreshOld), wait_limit_);
    coalesce::CacheResult<Page> result = co_await std::move(getting);
    if (!result.ok()) co_return api_error_of(result);
    bool stale = result.freshness == coalesce::Freshness::kStale;
    if (stale) stale_serves_.fetch_add(1, std::memory_order_relaxed);
    co_return ServedPage{std::move(result.value), stale, result.age};
  }

  void events_applied(const std::string& room, const std::vector<Event>& events,
                      std::optional<std::int64_t> version) override {
    if (!records_) return;  // a plain TTL cache: pages change when they expire
    // A version already heard of (its notification came first) was handled then.
    if (version && !rebuilds_->is_new_version(room, *version)) return;
    for (const Event& event : events) {
      if (event.type == EventType::kPrivilege) records_->invalidate(event.uid);
    }
    rebuilds_->room_changed(room, version);
  }

  SourceStats stats() const override {
    coalesce::CacheStats cache = cache_.stats();
    SourceStats s;
    s.hits = cache.hits;
    s.stale_serves = stale_serves_.load(std::memory_order_relaxed);
    s.loads_started = cache.loads_started;
    s.callers_coalesced = cache.callers_coalesced;
    s.load_waits = cache.load_waits;
    s.early_refreshes = cache.early_refreshes;
    s.evictions = cache.evictions;
    s.entries = cache.entries;
    if (rebuilds_) s.rebuilds = rebuilds_->stats();
    if (records_) s.privileges = records_->stats();
    return s;
  }

 private:
  // A failed build returns its ApiError: the cache hands that one value to
  // every waiter (and keeps it through the error back-off).
  asio::awaitable<ApiResult<Page>> load(PageKey key, RecordNeed need) {
    auto building = builder_.build(key, need);
    ApiResult<Page> page = co_await std::move(building);
    if (page && rebuilds_) rebuilds_->page_cached(key, page->version);
    co_return page;
  }

  asio::awaitable<bool> rebuild(PageKey key) {
    auto refreshing = cache_.refresh(key, loader(key, RecordNeed::kUseValid));
    std::optional<coalesce::Result<Page>> refreshed = co_await std::move(refreshing);
    co_return refreshed.has_value();
  }

  PageBuilder& builder_;
  PrivilegeCache* const records_;
  RoomChannels* const channels_;
  const std::chrono::milliseconds wait_limit_;
  coalesce::Cache<PageKey, Page, PageKeyHash> cache_;
  std::optional<RebuildScheduler> rebuilds_;  // live rooms only
  std::atomic<std::uint64_t> stale_serves_{0};
};

}  // namespace

std::unique_ptr<PageSource> make_direct_source(PageBuilder& builder) {
  return std::make_unique<DirectSource>(builder);
}
std::unique_ptr<PageSource> make_singleflight_source(PageBuilder& builder) {
  return std::make_unique<SingleflightSource>(builder);
}
std::unique_ptr<PageSource> make_cached_source(PageBuilder& builder, PrivilegeCache* records,
                                               CachedSourceOptions options) {
  return std::make_unique<CachedSource>(builder, records, options);
}

}  // namespace micq::serve
