#include "api_error.h"

#include <spdlog/spdlog.h>

#include <boost/beast/http/field.hpp>
#include <random>
#include <string>

namespace micq::serve {

http::Response to_response(const ApiError& error) {
  http::Response response = http::error_response(error.status, error.code, error.message);
  if (error.status == http::Status::too_many_requests) {
    thread_local std::minstd_rand draw(std::random_device{}());
    response.set(boost::beast::http::field::retry_after, std::to_string(1 + draw() % 3));
  }
  return response;
}

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
