// Fuzz target: a {"uids":[...]} batch body (the aggregator's and the sim's
// POST .../batch) through parse_uid_batch
// (services/common/include/micq/service/uid_batch.h), at the aggregator's
// bound (200), the sim's (1000) and the smallest (1).
//
// Invariants (SPEC §2, §3): an accepted batch holds 1..max_uids valid ids;
// uid_batch_json of it parses back to the same uids; what a smaller bound
// accepts a larger one accepts alike, and a bound refuses only batches
// longer than it that a larger bound accepts.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "check.h"
#include "micq/service/ids.h"
#include "micq/service/uid_batch.h"

namespace {

using micq::service::parse_uid_batch;

constexpr std::size_t kBounds[] = {1, 200, 1000};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto widest = parse_uid_batch(body, kBounds[2]);
  for (std::size_t max_uids : kBounds) {
    auto uids = max_uids == kBounds[2] ? widest : parse_uid_batch(body, max_uids);
    if (!uids) {
      MICQ_FUZZ_CHECK(!uids.error().empty(), "a refusal says why");
      MICQ_FUZZ_CHECK(!widest || widest->size() > max_uids,
                      "refused at " + std::to_string(max_uids) + ": " + uids.error());
      continue;
    }
    MICQ_FUZZ_CHECK(!uids->empty() && uids->size() <= max_uids, std::to_string(uids->size()) + " uids");
    for (const std::string& uid : *uids)
      MICQ_FUZZ_CHECK(micq::service::is_valid_id(uid), "uid '" + uid + "'");
    MICQ_FUZZ_CHECK(widest && *widest == *uids, "a larger bound disagrees");
    std::string written = micq::service::uid_batch_json(*uids);
    auto again = parse_uid_batch(written, max_uids);
    MICQ_FUZZ_CHECK(again && *again == *uids, "written back: " + written);
  }
  return 0;
}
