// Result<V>: what a coalesced call hands each of its callers. Errors are
// values here: a failed load, a cancelled wait and a missed deadline are all
// a Status, never an exception thrown at the waiter.
//
// A loader fails in one of two ways, and the waiter sees which:
//  * it throws: the exception travels in `error`, for the caller to rethrow
//    or inspect (rethrowing costs a throw per waiter);
//  * it returns an error value — its awaitable yields a
//    boost::system::result<V, E> holding an E — and every waiter reads that
//    E with error_as<E>(), without a throw. The value is shared like a
//    loaded one: 10,000 waiters of a failed load share one E.
//
// The value is shared, immutable and reference counted: a load whose result
// is hundreds of KB is delivered to 10,000 waiters without one copy.
#ifndef MICQ_COALESCE_RESULT_H_
#define MICQ_COALESCE_RESULT_H_

#include <any>
#include <cstdint>
#include <exception>
#include <memory>
#include <string_view>

namespace micq::coalesce {

enum class Status : std::uint8_t {
  kOk,          // `value` is set.
  kLoadFailed,  // the loader threw or returned an error (now or within
                // the error back-off): `error` or `error_value` holds it.
  kCancelled,   // this caller's wait was cancelled; the load goes on.
  kTimedOut,    // this caller's own deadline passed; the load goes on.
};

// An error a loader returned as a value: type-erased, as exception_ptr is,
// but read without a throw. Null when the loader did not return one.
using ErrorValue = std::shared_ptr<const std::any>;

template <class V>
struct Result {
  Status status = Status::kOk;
  std::shared_ptr<const V> value;  // set iff status == kOk
  // When status == kLoadFailed, exactly one of these is set.
  std::exception_ptr error;  // what the loader threw
  ErrorValue error_value;    // what the loader returned as its error
  // True when the outcome of the load was handed to more than one caller
  // (Go's `shared`): the leader sees it too once anybody joined.
  bool shared = false;
  // True for the one caller whose call started the load (Group::run).
  bool leader = false;

  bool ok() const { return status == Status::kOk; }

  // The error value the loader returned, if it returned an E; else null.
  template <class E>
  const E* error_as() const {
    return error_value ? std::any_cast<E>(error_value.get()) : nullptr;
  }
};

}  // namespace micq::coalesce

#endif  // MICQ_COALESCE_RESULT_H_
