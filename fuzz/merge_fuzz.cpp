// Fuzz target: the aggregator's merge of one batch's downstream answers,
// merge_privileges (services/aggregator/merge.h). The input picks one of
// four fixed uid lists (its first byte) and then holds one answer body per
// kind, separated by NUL bytes; an empty body is a kind whose call failed.
//
// Invariants (SPEC §3):
//  * the merged answer is valid JSON: {"users":{...},"degraded_kinds":[...]},
//    every uid asked for a key of "users", in order;
//  * a kind is degraded exactly when its call failed or its body is not
//    {"users":{"<uid>":{...},...}} JSON (judged here by simdjson's DOM
//    parser, which validates the whole document);
//  * a kind not degraded gives each user the record its body holds for
//    that uid (the same JSON value), and no record where it holds none.
#include <simdjson.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "check.h"
#include "micq/service/kinds.h"
#include "services/aggregator/merge.h"

namespace {

using micq::aggregator::KindAnswer;
using Uids = std::vector<std::string>;

const std::vector<Uids>& uid_lists() {
  static const std::vector<Uids> lists = [] {
    std::vector<Uids> out{{"u1"}, {"u1", "u2", "u3"}, {"u3", "u2", "u1", "u10", "A.b-c_9"}, {}};
    for (int i = 1; i <= 200; ++i) out.back().push_back("u" + std::to_string(i));  // the largest batch
    return out;
  }();
  return lists;
}

// What the merge should make of one kind's body: whether it is an answer
// at all, and the records it holds by uid (the last one of a repeated uid,
// as the merge reads them in order).
struct Expected {
  bool valid = false;
  std::map<std::string, std::string, std::less<>> minified_records;
};

Expected expect(const std::string& body) {
  thread_local simdjson::dom::parser parser;
  Expected out;
  simdjson::dom::element doc;
  simdjson::dom::object users;
  if (parser.parse(body).get(doc) || doc["users"].get_object().get(users)) return out;
  for (auto [uid, record] : users) {
    if (!record.is_object()) return out;
    out.minified_records[std::string(uid)] = simdjson::minify(record);
  }
  out.valid = true;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Uids& uids = uid_lists()[data[0] % uid_lists().size()];
  auto kinds = micq::service::builtin_kinds();
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<KindAnswer> answers;
  while (answers.size() < kinds.size()) {
    std::size_t end = std::min(rest.find('\0'), rest.size());
    std::string_view body = rest.substr(0, end);
    answers.push_back({kinds[answers.size()], !body.empty(), std::string(body)});
    if (end == rest.size()) break;
    rest.remove_prefix(end + 1);
  }
  const std::vector<KindAnswer> sent = answers;
  std::string merged = micq::aggregator::merge_privileges(uids, answers);

  simdjson::dom::parser merged_parser;
  simdjson::dom::element root;
  MICQ_FUZZ_CHECK(!merged_parser.parse(merged).get(root), "not JSON: " + merged.substr(0, 300));
  simdjson::dom::object top, users;
  simdjson::dom::array degraded;
  MICQ_FUZZ_CHECK(!root.get_object().get(top) && top.size() == 2 && !top["users"].get_object().get(users) &&
                      !top["degraded_kinds"].get_array().get(degraded),
                  merged.substr(0, 300));

  std::vector<std::string_view> want_degraded, got_degraded;
  for (const KindAnswer& answer : answers) {
    if (!answer.ok) want_degraded.push_back(answer.kind);
  }
  for (auto kind : degraded) got_degraded.push_back(kind.get_string().value_unsafe());
  MICQ_FUZZ_CHECK(got_degraded == want_degraded, "degraded_kinds " + simdjson::minify(degraded));

  std::size_t u = 0;
  for (auto [uid, privileges] : users) {
    MICQ_FUZZ_CHECK(u < uids.size() && uid == uids[u],
                    "user " + std::to_string(u) + " is " + std::string(uid));
    ++u;
    simdjson::dom::object records;
    MICQ_FUZZ_CHECK(!privileges.get_object().get(records), std::string(uid));
    for (auto [kind, record] : records) {
      bool from_healthy_kind = false;
      for (const KindAnswer& answer : answers) from_healthy_kind |= answer.ok && answer.kind == kind;
      MICQ_FUZZ_CHECK(from_healthy_kind && record.is_object(), std::string(uid) + "." + std::string(kind));
    }
  }
  MICQ_FUZZ_CHECK(u == uids.size(), std::to_string(u) + " of " + std::to_string(uids.size()) + " users");

  for (std::size_t k = 0; k < sent.size(); ++k) {
    if (!sent[k].ok) {
      MICQ_FUZZ_CHECK(!answers[k].ok, std::string(sent[k].kind) + " failed yet is not degraded");
      continue;
    }
    Expected expected = expect(sent[k].body);
    MICQ_FUZZ_CHECK(
        answers[k].ok == expected.valid,
        std::string(sent[k].kind) + (expected.valid ? " degraded" : " kept") + ": " + sent[k].body);
    // Escaped keys name a uid in a spelling the merge does not decode.
    if (!expected.valid || sent[k].body.find('\\') != std::string::npos) continue;
    for (const std::string& uid : uids) {
      auto it = expected.minified_records.find(uid);
      simdjson::dom::element record;
      bool present = !users[uid][sent[k].kind].get(record);
      MICQ_FUZZ_CHECK(present == (it != expected.minified_records.end()),
                      uid + "." + std::string(sent[k].kind));
      if (present)
        MICQ_FUZZ_CHECK(simdjson::minify(record) == it->second, uid + ": " + simdjson::minify(record));
    }
  }
  return 0;
}
