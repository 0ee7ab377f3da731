// The simulated privilege record of one user for one kind (SPEC §4): a
// JSON object of about `payload_bytes`, with realistic fields, that depends
// only on (kind, uid, gen) — so tests and benchmarks can predict it.
#ifndef MICQ_SIM_RECORD_H_
#define MICQ_SIM_RECORD_H_

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace micq::sim {

struct RecordKey {
  std::string_view kind;
  std::string_view uid;
  std::uint64_t gen = 0;
};

// Writes the record as one JSON object value.
void write_record(rapidjson::Writer<rapidjson::StringBuffer>& writer, const RecordKey& key,
                  std::size_t payload_bytes);

// The record alone, serialized.
std::string make_record(const RecordKey& key, std::size_t payload_bytes);

}  // namespace micq::sim

#endif  // MICQ_SIM_RECORD_H_
