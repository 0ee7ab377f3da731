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

#include "micq/coalesce/result.h"
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

// The SPEC error response; a 429 also says when to come back: 1 to 3 s,
// drawn per answer, so the clients shed together do not return together.
http::Response to_response(const ApiError& error);

// For boost::system::result<T, ApiError>::value() on an error (tests use
// it); serve itself reads the error as a value.
[[noreturn]] inline void throw_exception_from_error(const ApiError& e, const boost::source_location&) {
  throw std::runtime_error(e.code + ": " + e.message);
}

// A generic 503 for a load that failed without an ApiError: it threw
// (logged here), or the caller's wait for it ran out.
ApiError unexpected_failure(const std::exception_ptr& thrown);

// The ApiError a failed coalesced load returned (every waiter reads the one
// shared value; nothing is thrown), or unexpected_failure().
template <class V>
ApiError api_error_of(const coalesce::Result<V>& failed) {
  if (const ApiError* error = failed.template error_as<ApiError>()) return *error;
  return unexpected_failure(failed.error);
}

}  // namespace micq::serve

#endif  // MICQ_SERVE_API_ERROR_H_
