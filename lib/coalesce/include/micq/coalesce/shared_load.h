// SharedLoad: one load whose outcome any number of coroutines await — the
// flight of a Group without its key map, for a load shared by something
// other than one key. micq serve fetches the privilege records of several
// users in one aggregator batch; every page rebuild that needs one of those
// users awaits that batch instead of asking for the user again.
//
// Example:
//   auto batch = SharedLoad<Records>::create(executor);
//   register_for_each_user(batch);          // others may find and await it now
//   batch->start([=]() -> asio::awaitable<Records> { co_return co_await fetch(uids); });
//   Result<Records> records = co_await batch->wait();
//
// Semantics: as Group's (docs/coalescing.md): waiters are suspended
// coroutines, resumed on their own executor; a waiter may leave on its own
// deadline or cancellation without cancelling the load; a loader that
// throws hands kLoadFailed and its exception to every waiter (one that
// returns its error, the error value, without a throw); a waiter that
// arrives after the end gets the outcome at once; a load whose executor is
// shut down ends as kLoadFailed ("load abandoned"), never hangs.
//
// A load may also end with a value that arrives from elsewhere (set()):
// micq serve awaits a message from another instance that way, with the
// same deadlines and the same outcome-for-late-arrivals as a load.
//
// Thread safety: every member may be called from any thread. Exactly one of
// start() and set() must be called, once.
#ifndef MICQ_COALESCE_SHARED_LOAD_H_
#define MICQ_COALESCE_SHARED_LOAD_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>

#include "micq/coalesce/internal/flight.h"
#include "micq/coalesce/result.h"

namespace micq::coalesce {

template <class V>
class SharedLoad : public std::enable_shared_from_this<SharedLoad<V>> {
 public:
  using WaitTimeout = std::optional<std::chrono::steady_clock::duration>;

  // A load that will run on `executor` once start() is called; it can be
  // handed out (and awaited) before that.
  static std::shared_ptr<SharedLoad> create(boost::asio::any_io_executor executor) {
    return std::shared_ptr<SharedLoad>(new SharedLoad(std::move(executor)));
  }

  // Runs `loader` (`() -> asio::awaitable<V>`, or any loader Group takes)
  // as its own coroutine.
  template <class Loader>
  void start(Loader loader) {
    boost::asio::co_spawn(executor_, drive(flight_, std::move(loader)), boost::asio::detached);
  }

  // Ends the load with `value`, no loader run.
  void set(V value) {
    internal::Outcome<V> outcome;
    outcome.value = std::make_shared<const V>(std::move(value));
    flight_->finish(std::move(outcome));
  }

  // The load's outcome, once it ends (at once if it has).
  boost::asio::awaitable<Result<V>> wait(WaitTimeout timeout = std::nullopt) {
    auto executor = co_await boost::asio::this_coro::executor;
    flight_->note_caller();
    auto nothing_to_start = [] {};
    Result<V> result = co_await internal::async_wait<V>(flight_, executor, timeout, nothing_to_start,
                                                        boost::asio::use_awaitable);
    co_return result;
  }

 private:
  using FlightPtr = std::shared_ptr<internal::Flight<V>>;

  explicit SharedLoad(boost::asio::any_io_executor executor)
      : executor_(std::move(executor)), flight_(std::make_shared<internal::Flight<V>>(executor_)) {}

  // Finishes the flight with "load abandoned" if the driving coroutine is
  // destroyed before it completes (its executor was shut down).
  struct FinishGuard {
    FlightPtr flight;
    bool done = false;
    ~FinishGuard() {
      if (!done) flight->finish(internal::abandoned_outcome<V>());
    }
  };

  template <class Loader>
  static boost::asio::awaitable<void> drive(FlightPtr flight, Loader loader) {
    FinishGuard guard{flight};
    internal::Outcome<V> outcome = co_await internal::run_loader<V>(loader);
    guard.done = true;
    flight->finish(std::move(outcome));
  }

  const boost::asio::any_io_executor executor_;
  const FlightPtr flight_;
};

}  // namespace micq::coalesce

#endif  // MICQ_COALESCE_SHARED_LOAD_H_
