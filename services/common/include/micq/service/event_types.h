// The room event types of SPEC §2 and their names, written once: serve reads
// them from request bodies and passes the name to the events script, bench
// sends them and takes `--events` rates by them.
//
// Example:
//   value_named(kEventTypeNames, "gift");           // EventType::kGift
//   name_of(kEventTypeNames, EventType::kShare);    // "share"
#ifndef MICQ_SERVICE_EVENT_TYPES_H_
#define MICQ_SERVICE_EVENT_TYPES_H_

#include <array>
#include <cstddef>

#include "micq/service/named.h"

namespace micq::service {

// In SPEC order; bench indexes per-type rates by the value.
enum class EventType { kEnter, kExit, kGift, kChat, kShare, kPrivilege };

inline constexpr std::size_t kEventTypeCount = 6;

inline constexpr std::array<Named<EventType>, kEventTypeCount> kEventTypeNames = {{
    {"enter", EventType::kEnter},
    {"exit", EventType::kExit},
    {"gift", EventType::kGift},
    {"chat", EventType::kChat},
    {"share", EventType::kShare},
    {"privilege", EventType::kPrivilege},
}};

// Indexed by the value too (kEventTypeNames[i].name, bench's per-type rates).
constexpr bool listed_in_value_order() {
  for (std::size_t i = 0; i < kEventTypeNames.size(); ++i) {
    if (static_cast<std::size_t>(kEventTypeNames[i].value) != i) return false;
  }
  return true;
}
static_assert(listed_in_value_order());

}  // namespace micq::service

#endif  // MICQ_SERVICE_EVENT_TYPES_H_
