// Splicing JSON without re-serializing it: shared by the aggregator's merge
// and serve's page body, which both copy records located by simdjson's
// on-demand parser into output written with RapidJSON.
#ifndef MICQ_SERVICE_JSON_SPLICE_H_
#define MICQ_SERVICE_JSON_SPLICE_H_

#include <rapidjson/writer.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace micq::service {

// A RapidJSON output stream that appends to a std::string, so the finished
// JSON is the string itself: no copy out of a StringBuffer (a 240 KB answer
// was copied once more just to change hands).
class StringOutput {
 public:
  using Ch = char;
  explicit StringOutput(std::string& out) : out_(out) {}
  void Put(char c) { out_.push_back(c); }
  void Flush() {}
  void Append(const char* text, std::size_t length) { out_.append(text, length); }

 private:
  std::string& out_;
};

// RapidJSON's Writer into a std::string, with RawValue splicing the text
// in one copy (the stock WriteRawValue copies byte by byte: perf's hot spot
// in the merge).
class SplicingWriter : public rapidjson::Writer<StringOutput> {
 public:
  using rapidjson::Writer<StringOutput>::Writer;
  bool RawValue(const char* json, std::size_t length, rapidjson::Type type) {
    this->Prefix(type);
    this->os_->Append(json, length);
    return this->EndValue(true);
  }
};

// simdjson's raw_json() keeps the whitespace that followed the value.
inline std::string_view trim_json_right(std::string_view text) {
  while (!text.empty() &&
         (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// The index i < count whose uid_at(i) equals the raw JSON key, trying
// `guess` first (answers list users in request order); `count` if none.
// REQUIRES: uids need no JSON escaping (valid ids never do).
template <class RawKey, class UidAt>
std::size_t find_uid(const RawKey& key, std::size_t count, std::size_t guess, UidAt uid_at) {
  if (guess < count && key.unsafe_is_equal(uid_at(guess))) return guess;
  for (std::size_t i = 0; i < count; ++i) {
    if (key.unsafe_is_equal(uid_at(i))) return i;
  }
  return count;
}

}  // namespace micq::service

#endif  // MICQ_SERVICE_JSON_SPLICE_H_
