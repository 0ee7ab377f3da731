// Fuzz target: bytes from a Redis server through what the client's read
// loop does with them (lib/redis/client.cpp): the reader it makes
// (internal::make_reply_reader, hiredis's with arrays capped), fed as the
// socket delivers, each complete reply converted to an owned redis::Reply
// by internal::convert_reply.
//
// Invariants: the replies decoded, and whether the stream ends in a
// protocol error, do not depend on how the bytes were cut into reads; each
// Reply written back as RESP decodes to the same Reply.
#include <hiredis/hiredis.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check.h"
#include "micq/redis/internal/reply_conversion.h"

namespace {

using micq::redis::Reply;

struct ReplyFree {
  void operator()(void* reply) const { freeReplyObject(reply); }
};

struct Decoded {
  std::vector<Reply> replies;
  bool failed = false;  // hiredis refused the stream, or a reply did not convert
};

bool same(const Reply& a, const Reply& b) {
  if (a.type != b.type || a.str != b.str || a.integer != b.integer || a.elements.size() != b.elements.size())
    return false;
  for (std::size_t i = 0; i < a.elements.size(); ++i) {
    if (!same(a.elements[i], b.elements[i])) return false;
  }
  return true;
}

bool same(const Decoded& a, const Decoded& b) {
  if (a.failed != b.failed || a.replies.size() != b.replies.size()) return false;
  for (std::size_t i = 0; i < a.replies.size(); ++i) {
    if (!same(a.replies[i], b.replies[i])) return false;
  }
  return true;
}

Decoded decode(std::string_view bytes, std::size_t piece) {
  Decoded out;
  micq::redis::internal::ReplyReader reader = micq::redis::internal::make_reply_reader();
  while (!bytes.empty()) {
    std::size_t n = std::min(piece, bytes.size());
    if (redisReaderFeed(reader.get(), bytes.data(), n) != REDIS_OK) {
      out.failed = true;
      return out;
    }
    bytes.remove_prefix(n);
    while (true) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) {
        out.failed = true;
        return out;
      }
      if (raw == nullptr) break;  // needs more bytes
      std::unique_ptr<void, ReplyFree> owned(raw);
      std::optional<Reply> reply = micq::redis::internal::convert_reply(*static_cast<redisReply*>(raw));
      if (!reply) {
        out.failed = true;
        return out;
      }
      out.replies.push_back(std::move(*reply));
    }
  }
  return out;
}

void write_resp(const Reply& reply, std::string& out) {
  switch (reply.type) {
    case Reply::Type::kString:
      out += "$" + std::to_string(reply.str.size()) + "\r\n" + reply.str + "\r\n";
      break;
    case Reply::Type::kStatus:
      out += "+" + reply.str + "\r\n";
      break;
    case Reply::Type::kError:
      out += "-" + reply.str + "\r\n";
      break;
    case Reply::Type::kInteger:
      out += ":" + std::to_string(reply.integer) + "\r\n";
      break;
    case Reply::Type::kNil:
      out += "$-1\r\n";
      break;
    case Reply::Type::kArray:
      out += "*" + std::to_string(reply.elements.size()) + "\r\n";
      for (const Reply& element : reply.elements) write_resp(element, out);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Decoded whole = decode(bytes, bytes.size());
  // Any cut will do; this one varies with the input so the fuzzer tries many.
  std::size_t piece = 1 + (size * 7 + (size ? data[size - 1] : 0)) % 17;
  Decoded pieces = decode(bytes, piece);
  MICQ_FUZZ_CHECK(same(whole, pieces),
                  "whole: " + std::to_string(whole.replies.size()) + " replies" +
                      (whole.failed ? ", failed" : "") + "; in pieces of " + std::to_string(piece) + ": " +
                      std::to_string(pieces.replies.size()) + (pieces.failed ? ", failed" : ""));
  for (const Reply& reply : whole.replies) {
    std::string resp;
    write_resp(reply, resp);
    Decoded again = decode(resp, resp.size());
    MICQ_FUZZ_CHECK(!again.failed && again.replies.size() == 1 && same(again.replies[0], reply),
                    "written back: " + resp.substr(0, 200));
  }
  return 0;
}
