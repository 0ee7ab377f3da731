// Internal to micq::redis: reading Redis's replies. The reader the client
// decodes a connection's bytes with, and hiredis's reply tree -> an owned
// Reply. The client's read loop and the reply fuzz target
// (fuzz/redis_reply_fuzz.cpp) share both, so the fuzzer exercises exactly
// what decodes Redis's answers.
//
// Example:
//   ReplyReader reader = make_reply_reader();
//   redisReaderFeed(reader.get(), bytes, n);
//   void* raw = nullptr;
//   if (redisReaderGetReply(reader.get(), &raw) == REDIS_OK && raw)
//     std::optional<Reply> reply = convert_reply(*static_cast<redisReply*>(raw));
//
// Thread safety: a reader belongs to one connection; convert_reply is pure.
#ifndef MICQ_REDIS_INTERNAL_REPLY_CONVERSION_H_
#define MICQ_REDIS_INTERNAL_REPLY_CONVERSION_H_

#include <hiredis/hiredis.h>

#include <cstddef>
#include <memory>
#include <optional>

#include "micq/redis/reply.h"

namespace micq::redis::internal {

// hiredis 0.14 allocates an array's element table as soon as it reads the
// header ("*872375030\r\n" is a 7 GB calloc, and freeing it walks every
// slot). No reply micq asks for comes near this (a page is at most 100
// elements, CLUSTER SLOTS at most 16,384 ranges), so a longer array is
// refused as a protocol error before anything is allocated for it.
inline constexpr std::size_t kMaxReplyElements = std::size_t{1} << 20;

struct ReaderFree {
  void operator()(redisReader* reader) const { redisReaderFree(reader); }
};
using ReplyReader = std::unique_ptr<redisReader, ReaderFree>;

// hiredis's reader with arrays capped at kMaxReplyElements; null if out of
// memory.
ReplyReader make_reply_reader();

// `in` as an owned Reply; nullopt on a type this client does not know (or
// a null array element).
std::optional<Reply> convert_reply(const redisReply& in);

}  // namespace micq::redis::internal

#endif  // MICQ_REDIS_INTERNAL_REPLY_CONVERSION_H_
