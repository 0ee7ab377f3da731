#include "micq/redis/internal/reply_conversion.h"

#include <cstddef>
#include <utility>

namespace micq::redis::internal {
namespace {

// hiredis's own reply constructors (its default table, static inside
// hiredis), copied once with createArray wrapped.
struct CappedFunctions {
  redisReplyObjectFunctions table{};
  void* (*create_array)(const redisReadTask*, int) = nullptr;
};

CappedFunctions& capped_functions(const redisReplyObjectFunctions& defaults) {
  static CappedFunctions capped = [&defaults] {
    CappedFunctions made;
    made.table = defaults;
    made.create_array = defaults.createArray;
    // A null object makes hiredis fail the stream (REDIS_ERR).
    made.table.createArray = [](const redisReadTask* task, int elements) -> void* {
      if (elements > 0 && static_cast<std::size_t>(elements) > kMaxReplyElements) return nullptr;
      return capped.create_array(task, elements);
    };
    return made;
  }();
  return capped;
}

}  // namespace

ReplyReader make_reply_reader() {
  ReplyReader reader(redisReaderCreate());
  if (reader && reader->fn) reader->fn = &capped_functions(*reader->fn).table;
  return reader;
}

std::optional<Reply> convert_reply(const redisReply& in) {
  Reply out;
  switch (in.type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(in.str, in.len);
      return out;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(in.str, in.len);
      return out;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(in.str, in.len);
      return out;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = in.integer;
      return out;
    case REDIS_REPLY_NIL:
      out.type = Reply::Type::kNil;
      return out;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(in.elements);
      for (std::size_t i = 0; i < in.elements; ++i) {
        if (in.element[i] == nullptr) return std::nullopt;
        std::optional<Reply> element = convert_reply(*in.element[i]);
        if (!element) return std::nullopt;
        out.elements.push_back(std::move(*element));
      }
      return out;
    default:
      return std::nullopt;
  }
}

}  // namespace micq::redis::internal
