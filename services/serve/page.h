// A built mic-queue page as micq serve keeps it: the serialized body, its
// ETag and (when cached) a gzip copy, so that a hit does no JSON work and
// no allocation proportional to the body (SPEC §5).
#ifndef MICQ_SERVE_PAGE_H_
#define MICQ_SERVE_PAGE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

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

struct Page {
  std::shared_ptr<const std::string> body;
  std::string etag;                         // strong validator of `body`, quoted
  std::shared_ptr<const std::string> gzip;  // null unless precomputed
  std::chrono::nanoseconds age{0};          // how old when loaded (from L2: built elsewhere)
  std::int64_t version = 0;                 // the room version it shows
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
