// SharedPageBuilder (--l2 on, SPEC §5 "across instances"): a PageBuilder
// that first looks for the page in Redis, where any instance may have put
// it, and otherwise builds it with the builder it wraps and puts it there
// for the rest of its TTL. Pages are keyed by the room's version, so an
// applied event (which bumps it) retires every instance's shared pages of
// the room; a per-page lock lets one instance build while the others wait
// for its result: woken by its "page" message on the room's fleet channel
// (room_channels.h), for no longer than a build may take. A shared page
// past half its TTL is built anew (once, under the lock), so a refresh
// ahead of expiry brings a fresh page, not the same one again.
//
// Thread safety: as PageBuilder.
#ifndef MICQ_SERVE_SHARED_PAGES_H_
#define MICQ_SERVE_SHARED_PAGES_H_

#include <chrono>
#include <optional>
#include <string>

#include "page_builder.h"
#include "room_channels.h"

namespace micq::serve {

class SharedPageBuilder final : public PageBuilder {
 public:
  // `channels` must outlive this.
  SharedPageBuilder(RoomStore& rooms, PageBuilder& inner, RoomChannels& channels,
                    std::chrono::milliseconds ttl, BuildOptions options)
      : rooms_(rooms), inner_(inner), channels_(channels), ttl_(ttl), options_(options) {}
  boost::asio::awaitable<ApiResult<Page>> build(PageKey key, RecordNeed need) override;

 private:
  // The room's current version and, if some instance built that version's
  // page already, the page (one round trip); nullopt when Redis failed.
  struct Lookup {
    std::string version;
    std::optional<Page> page;
  };
  boost::asio::awaitable<std::optional<Lookup>> lookup(const PageKey& key);

  RoomStore& rooms_;
  PageBuilder& inner_;
  RoomChannels& channels_;
  const std::chrono::milliseconds ttl_;
  const BuildOptions options_;
};

}  // namespace micq::serve

#endif  // MICQ_SERVE_SHARED_PAGES_H_
