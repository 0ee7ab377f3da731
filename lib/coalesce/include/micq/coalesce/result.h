// Result<V>: what a coalesced call hands each of its callers. Errors are
// values here: a failed load, a cancelled wait and a missed deadline are all
// a Status, never an exception thrown at the waiter. The loader's own
// exception travels in `error` so the caller can rethrow or inspect it.
//
// The value is shared, immutable and reference counted: a load whose result
// is hundreds of KB is delivered to 10,000 waiters without one copy.
#ifndef MICQ_COALESCE_RESULT_H_
#define MICQ_COALESCE_RESULT_H_

#include <cstdint>
#include <exception>
#include <memory>
#include <string_view>

namespace micq::coalesce {

enum class Status : std::uint8_t {
  kOk,          // `value` is set.
  kLoadFailed,  // the loader threw (now or within the error back-off);
                // `error` holds its exception.
  kCancelled,   // this caller's wait was cancelled; the load goes on.
  kTimedOut,    // this caller's own deadline passed; the load goes on.
};

std::string_view to_string(Status status);

template <class V>
struct Result {
  Status status = Status::kOk;
  std::shared_ptr<const V> value;  // set iff status == kOk
  std::exception_ptr error;        // set iff status == kLoadFailed
  // True when the outcome of the load was handed to more than one caller
  // (Go's `shared`): the leader sees it too once anybody joined.
  bool shared = false;
  // True for the one caller whose call started the load (Group::run).
  bool leader = false;

  bool ok() const { return status == Status::kOk; }
};

}  // namespace micq::coalesce

#endif  // MICQ_COALESCE_RESULT_H_
