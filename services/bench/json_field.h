// One integer field of a JSON object answer — a room version, a /stats
// counter — read with simdjson's on-demand parser.
#ifndef MICQ_BENCH_JSON_FIELD_H_
#define MICQ_BENCH_JSON_FIELD_H_

#include <cstdint>
#include <optional>
#include <string>

namespace micq::bench {

// `body[name]` as an integer, or nullopt if the body is not an object with
// such a field. May grow `body`'s capacity by simdjson's padding (answers
// read by http::ClientPool already have it).
std::optional<std::int64_t> json_int_field(std::string& body, const char* name);

}  // namespace micq::bench

#endif  // MICQ_BENCH_JSON_FIELD_H_
