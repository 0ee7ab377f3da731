#include "api_error.h"

#include <spdlog/spdlog.h>

namespace micq::serve {

ApiError unexpected_failure(const std::exception_ptr& thrown) {
  if (thrown) {
    try {
      std::rethrow_exception(thrown);
    } catch (const std::exception& e) {
      spdlog::warn("page load failed: {}", e.what());
    } catch (...) {
      spdlog::warn("page load failed with a non-standard exception");
    }
  }
  return ApiError::unavailable("upstream_unavailable",
                               "The page could not be loaded and nothing servable is cached.");
}

}  // namespace micq::serve
