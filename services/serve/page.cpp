#include "page.h"

#include <zlib.h>

#include <cstdio>
#include <stdexcept>

namespace micq::serve {

std::string etag_of(std::string_view body) {
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  char text[48];
  std::snprintf(text, sizeof text, "\"%08lx-%zx\"", static_cast<unsigned long>(crc), body.size());
  return text;
}

std::string gzip_of(std::string_view body, int level) {
  z_stream stream{};
  // windowBits 15 + 16: a gzip wrapper rather than zlib's.
  if (deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out;
  out.resize(deflateBound(&stream, static_cast<uLong>(body.size())));
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  stream.avail_in = static_cast<uInt>(body.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
  return out;
}

namespace {
std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}
}  // namespace

std::shared_ptr<const std::string> LazyGzip::get(std::string_view body) const {
  if (made_.load(std::memory_order_acquire)) return bytes_;  // never written again
  // Compressed outside the lock: a racing thread compresses too rather
  // than wait; the first to finish is kept.
  auto compressed = std::make_shared<const std::string>(gzip_of(body, level_));
  std::lock_guard lock(mu_);
  if (!made_.load(std::memory_order_relaxed)) {
    bytes_ = std::move(compressed);
    made_.store(true, std::memory_order_release);
  }
  return bytes_;
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  while (!if_none_match.empty()) {
    auto comma = if_none_match.find(',');
    std::string_view candidate = trim(if_none_match.substr(0, comma));
    if (candidate == "*") return true;
    if (candidate.substr(0, 2) == "W/") candidate.remove_prefix(2);  // weak comparison for If-None-Match
    if (candidate == etag) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

bool accepts_gzip(std::string_view accept_encoding) {
  while (!accept_encoding.empty()) {
    auto comma = accept_encoding.find(',');
    std::string_view item = trim(accept_encoding.substr(0, comma));
    auto semicolon = item.find(';');
    std::string_view coding = trim(item.substr(0, semicolon));
    if (coding == "gzip" || coding == "*") {
      std::string_view params = semicolon == std::string_view::npos ? "" : item.substr(semicolon + 1);
      params = trim(params);
      bool refused = params == "q=0" || params == "q=0.0" || params == "q=0.00" || params == "q=0.000";
      if (!refused) return true;
    }
    if (comma == std::string_view::npos) break;
    accept_encoding.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace micq::serve
