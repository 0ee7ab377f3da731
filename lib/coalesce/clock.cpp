#include "micq/coalesce/clock.h"

namespace micq::coalesce {

std::shared_ptr<const Clock> SteadyClock::instance() {
  static const auto clock = std::make_shared<const SteadyClock>();
  return clock;
}

}  // namespace micq::coalesce
