#include "micq/coalesce/result.h"

namespace micq::coalesce {

std::string_view to_string(Status status) {
  switch (status) {
    case Status::kOk:
      return "ok";
    case Status::kLoadFailed:
      return "load_failed";
    case Status::kCancelled:
      return "cancelled";
    case Status::kTimedOut:
      return "timed_out";
  }
  return "unknown";
}

}  // namespace micq::coalesce
