// Merging the per-kind downstream answers of one batch into the
// aggregator's answer (SPEC §3), without re-serializing any record: each
// record's raw JSON text is located by simdjson's on-demand parser and
// spliced into the output by RapidJSON's writer.
#ifndef MICQ_AGGREGATOR_MERGE_H_
#define MICQ_AGGREGATOR_MERGE_H_

#include <string>
#include <string_view>
#include <vector>

namespace micq::aggregator {

// One kind's downstream answer for the batch.
struct KindAnswer {
  std::string_view kind;
  bool ok = false;   // false: the call failed or missed its deadline
  std::string body;  // when ok: {"users":{"u1":{...},...}}; padded in place by merge
};

// {"users":{"<uid>":{"<kind>":<record>,...},...},"degraded_kinds":[...]}.
// Every uid is a key of "users". A kind that failed, or whose body is not
// the expected JSON, is left out of every user and listed as degraded.
// REQUIRES: uids are valid ids (no characters JSON would escape).
std::string merge_privileges(const std::vector<std::string>& uids, std::vector<KindAnswer>& answers);

}  // namespace micq::aggregator

#endif  // MICQ_AGGREGATOR_MERGE_H_
