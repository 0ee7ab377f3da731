// Reading an aggregator answer ({"users":{...},"degraded_kinds":[...]},
// SPEC §3) in place: each user's privileges object as its raw text, for
// splicing into pages without re-serializing it. Shared by the page body
// (the whole answer spliced) and the privilege source (split per user).
#ifndef MICQ_SERVE_AGGREGATOR_ANSWER_H_
#define MICQ_SERVE_AGGREGATOR_ANSWER_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace micq::serve {

struct LocatedPrivileges {
  std::vector<std::string_view> records;  // one per uid asked; empty where the answer has none
  std::string_view degraded = "[]";       // the raw degraded_kinds array
};

// Locates the records of `uids` in `answer` (views into it; it is padded in
// place for simdjson). The whole answer is validated first: records are
// spliced as they are, and on-demand parsing checks only what it visits.
// False if the answer is malformed.
bool locate_privileges(std::string& answer, const std::vector<std::string_view>& uids,
                       LocatedPrivileges& out);

// The kind names of a raw JSON array of strings, or nullopt.
std::optional<std::vector<std::string>> kind_names(std::string_view raw_array);

}  // namespace micq::serve

#endif  // MICQ_SERVE_AGGREGATOR_ANSWER_H_
