// PageBuilder: how one mic-queue page is built (SPEC §2). Two shapes:
//  * BatchPageBuilder — the ranking page, then one aggregator batch for its
//    users, spliced into the body whole: the write-up's design, used by
//    --strategy direct and singleflight, and by cached with --live-rooms off;
//  * LivePageBuilder — the ranking page, then each user's records from the
//    PrivilegeCache (fetched only when missing or due): a room event costs
//    one Redis round trip.
// Both read the ranking fresh on every build, compute the ETag and, when
// asked to, the gzip variant once per build.
//
// Thread safety: build() may be called concurrently; each call must be
// awaited on an executor that runs one handler at a time (a strand).
#ifndef MICQ_SERVE_PAGE_BUILDER_H_
#define MICQ_SERVE_PAGE_BUILDER_H_

#include <boost/asio/awaitable.hpp>

#include "admission.h"
#include "api_error.h"
#include "micq/coalesce/clock.h"
#include "page.h"
#include "page_body.h"
#include "privilege_cache.h"
#include "privilege_source.h"
#include "room_store.h"

namespace micq::serve {

struct BuildOptions {
  JsonEngine json = JsonEngine::kFast;
  int gzip_level = 1;  // for the precomputed variant
  // Kept pages (cached): gzip once per build (when asked for), not per
  // answer, and each kind of answer's head serialized once.
  bool kept = false;
  // Kept pages whose body is at least this many bytes are also put in a
  // sealed file and sent with sendfile(2); 0: never.
  std::size_t sendfile_min_bytes = 0;
};

class PageBuilder {
 public:
  virtual ~PageBuilder() = default;
  // `need` says how eager the build is to renew privilege records (only
  // the live builder has any to renew).
  virtual boost::asio::awaitable<ApiResult<Page>> build(PageKey key, RecordNeed need) = 0;
};

// ETag and (if asked) gzip of a finished body.
Page finish_page(std::string body, std::int64_t version, const BuildOptions& options);

class BatchPageBuilder final : public PageBuilder {
 public:
  BatchPageBuilder(RoomStore& rooms, PrivilegeSource& privileges, BuildOptions options)
      : rooms_(rooms), privileges_(privileges), options_(options) {}
  boost::asio::awaitable<ApiResult<Page>> build(PageKey key, RecordNeed need) override;

 private:
  RoomStore& rooms_;
  PrivilegeSource& privileges_;
  const BuildOptions options_;
};

class LivePageBuilder final : public PageBuilder {
 public:
  LivePageBuilder(RoomStore& rooms, PrivilegeCache& records, BuildOptions options,
                  std::shared_ptr<const coalesce::Clock> clock = coalesce::SteadyClock::instance())
      : rooms_(rooms), records_(records), options_(options), clock_(std::move(clock)) {}
  boost::asio::awaitable<ApiResult<Page>> build(PageKey key, RecordNeed need) override;

 private:
  RoomStore& rooms_;
  PrivilegeCache& records_;
  const BuildOptions options_;
  const std::shared_ptr<const coalesce::Clock> clock_;
};

// A PageBuilder that admits each build through an Admission first.
class AdmittedBuilder final : public PageBuilder {
 public:
  AdmittedBuilder(Admission& admission, PageBuilder& inner) : admission_(admission), inner_(inner) {}
  boost::asio::awaitable<ApiResult<Page>> build(PageKey key, RecordNeed need) override;

 private:
  Admission& admission_;
  PageBuilder& inner_;
};

}  // namespace micq::serve

#endif  // MICQ_SERVE_PAGE_BUILDER_H_
