// ApiError: a failure exactly as the client sees it — the SPEC §2 error
// (status, snake_case code, human sentence). Serve's pieces return it as a
// value, from the dependency that failed to the response, instead of
// throwing and catching at every layer.
#ifndef MICQ_SERVE_API_ERROR_H_
#define MICQ_SERVE_API_ERROR_H_

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

#include "micq/http/message.h"

namespace micq::serve {

struct ApiError {
  http::Status status = http::Status::service_unavailable;
  std::string code;
  std::string message;

  static ApiError unavailable(std::string code, std::string message) {
    return {http::Status::service_unavailable, std::move(code), std::move(message)};
  }
};

template <class T>
using ApiResult = boost::system::result<T, ApiError>;

inline http::Response to_response(const ApiError& error) {
  return http::error_response(error.status, error.code, error.message);
}

// The one place an ApiError becomes an exception: a coalesced page load
// fails through coalesce::Cache, which hands its waiters an exception_ptr.
struct ApiErrorException : std::runtime_error {
  explicit ApiErrorException(ApiError e) : std::runtime_error(e.message), error(std::move(e)) {}
  ApiError error;
};

// The ApiError a failed load carried, or a generic 503 for anything else.
ApiError api_error_of(const std::exception_ptr& failure);

// For boost::system::result<T, ApiError>::value() on an error.
[[noreturn]] inline void throw_exception_from_error(const ApiError& e, const boost::source_location&) {
  throw ApiErrorException(e);
}

}  // namespace micq::serve

#endif  // MICQ_SERVE_API_ERROR_H_
