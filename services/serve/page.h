// A built mic-queue page as micq serve keeps it: the serialized body, its
// ETag and (when cached) a gzip copy, so that a hit does no JSON work and
// no allocation proportional to the body (SPEC §5).
#ifndef MICQ_SERVE_PAGE_H_
#define MICQ_SERVE_PAGE_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "micq/http/sealed_file.h"

namespace micq::serve {

struct PageKey {
  std::string room_id;
  int page = 0;
  int size = 0;
  bool operator==(const PageKey&) const = default;
};

struct PageKeyHash {
  std::size_t operator()(const PageKey& key) const {
    std::size_t h = std::hash<std::string>{}(key.room_id);
    return h ^ (static_cast<std::size_t>(key.page) * 0x9e3779b97f4a7c15ULL) ^
           (static_cast<std::size_t>(key.size) << 20);
  }
};

// The gzip variant of one body, made by the first answer that asks for it
// and kept for the others: a page rebuilt 20 times a second by room events
// compresses only when a client wants gzip. Never blocks: threads that race
// to make it each compress, and one result is kept.
class LazyGzip {
 public:
  explicit LazyGzip(int level) : level_(level) {}
  // REQUIRES: `body` is the body this variant belongs to, every time.
  std::shared_ptr<const std::string> get(std::string_view body) const;

 private:
  const int level_;
  // Set once, under mu_, then only read: `made_` says it is set.
  mutable std::mutex mu_;
  mutable std::shared_ptr<const std::string> bytes_;
  mutable std::atomic<bool> made_{false};
};

// The heads of a kept page's answers in wire form (the status line and
// header lines), made by the first answer of each kind and kept for the
// others: a hit then serializes nothing (Part 7's hit path). Never blocks
// for long: one thread makes a head, under a lock taken once per kind.
// One prepared answer head; for an identity answer of a page at least
// --sendfile-min-bytes, also the whole keep-alive answer (head, blank line,
// body) in a sealed file, so that a hit is one sendfile(2).
struct PreparedHead {
  std::shared_ptr<const std::string> head;
  std::shared_ptr<const http::SealedFile> file;  // null: sent from memory
};

class PreparedHeads {
 public:
  enum Kind { kIdentity, kGzip, kNotModified, kKinds };
  // The head of `kind`, made by `make()` (returning a PreparedHead) the
  // first time.
  template <class Make>
  const PreparedHead& get(Kind kind, Make make) const {
    Slot& slot = slots_[kind];
    if (!slot.made.load(std::memory_order_acquire)) {
      std::lock_guard lock(slot.mu);
      if (!slot.made.load(std::memory_order_relaxed)) {
        slot.prepared = make();
        slot.made.store(true, std::memory_order_release);
      }
    }
    return slot.prepared;
  }

 private:
  struct Slot {
    std::mutex mu;
    PreparedHead prepared;  // written once, under mu, before `made`
    std::atomic<bool> made{false};
  };
  mutable Slot slots_[kKinds];
};

struct Page {
  std::shared_ptr<const std::string> body;
  std::string etag;                      // strong validator of `body`, quoted
  std::shared_ptr<LazyGzip> gzip;        // null: compress per answer (nothing keeps the page)
  std::shared_ptr<PreparedHeads> heads;  // kept pages: their answers' heads in wire form
  // Kept pages at least --sendfile-min-bytes: identity answers go out with
  // sendfile(2) from a sealed file (made with the identity head).
  bool sealed = false;
  // How old the data was when the page was built: from L2, built elsewhere
  // earlier; from cached privilege records, the oldest record's age. The
  // page is fresh for the rest of the TTL only.
  std::chrono::nanoseconds age{0};
  // What its next rebuild may take at least (a privilege batch, when its
  // records are due): sizes the refresh-ahead window.
  std::chrono::nanoseconds refresh_lead{0};
  std::int64_t version = 0;  // the room version it shows
};

// "\"<crc32>-<length>\"" of the body.
std::string etag_of(std::string_view body);

// gzip (RFC 1952) of `body` at zlib `level` 1..9. Level 1 (nginx's default
// gzip_comp_level) is ~5x cheaper than zlib's default 6 on a 240 KB page
// (1.5 vs 7.4 ms) for ~35% more bytes.
std::string gzip_of(std::string_view body, int level = 1);

// True if an If-None-Match header value matches `etag` ("*", a list, W/).
bool etag_matches(std::string_view if_none_match, std::string_view etag);

// True if an Accept-Encoding header value accepts gzip.
bool accepts_gzip(std::string_view accept_encoding);

}  // namespace micq::serve

#endif  // MICQ_SERVE_PAGE_H_
