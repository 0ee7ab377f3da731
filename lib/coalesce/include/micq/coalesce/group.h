// Group: request coalescing ("singleflight") for C++20 coroutines.
//
// While a load for a key is in flight, every other caller for that key is
// suspended — no thread is blocked — and all of them receive the same
// result, or the same error, when the one load finishes.
//
// Example:
//   micq::coalesce::Group<std::string, std::string> pages;
//   asio::awaitable<void> handle(std::string room) {
//     // named first: g++ 12 destroys the captures of a lambda made inside
//     // a co_await expression twice (docs/design.md)
//     auto load = [room]() -> asio::awaitable<std::string> {
//       co_return co_await read_page_from_redis(room);
//     };
//     auto page = co_await pages.run(room, load);
//     if (!page.ok()) { ... page.status, page.error ... }
//     use(*page.value);  // shared, immutable: never copied per caller
//   }
//
// Semantics (docs/coalescing.md has the full table against Go's):
//  * The load does not belong to its first caller. It runs as its own
//    coroutine on the first caller's executor; any caller — the first one
//    included — may leave on cancellation or on its own deadline
//    (Status::kCancelled / kTimedOut) and the load goes on for the others.
//  * When the last waiter leaves, the load still runs to completion and its
//    result is delivered to whoever joined meanwhile (a cache above stores
//    it). Abandoning it would waste the work already done and make the next
//    caller start again from zero.
//  * A loader that throws delivers the exception (Status::kLoadFailed) to
//    every waiter and frees the key; the next call starts a new load. A
//    loader that returns its error (a boost::system::result holding an E)
//    does the same without a throw: every waiter reads the one shared E
//    with Result::error_as<E>().
//  * forget(key): the next caller starts a fresh load; the one in flight
//    still completes for its own waiters, and only removes the key from the
//    map if the key is still its own ("delete only if it is still my call").
//  * If the executor is shut down under a suspended load, its waiters get
//    kLoadFailed ("load abandoned") instead of hanging.
//
// Thread safety: every member function may be called concurrently from any
// thread, including many threads running one io_context. Internally the
// key map is split into shards, each with its own mutex.
// Lifetime: loads in flight keep the group's state alive, so destroying the
// Group object while loads run is safe.
#ifndef MICQ_COALESCE_GROUP_H_
#define MICQ_COALESCE_GROUP_H_

#include <array>
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "micq/coalesce/internal/flight.h"
#include "micq/coalesce/result.h"
#include "micq/sync/mutex.h"

namespace micq::coalesce {

struct GroupStats {
  std::uint64_t loads_started = 0;      // flights begun (one per leader)
  std::uint64_t callers_coalesced = 0;  // callers that joined a flight in progress
};

template <class Key, class V, class Hash = std::hash<Key>, class KeyEqual = std::equal_to<Key>>
class Group {
 public:
  // A waiter's own deadline, measured on the real steady clock.
  using WaitTimeout = std::optional<std::chrono::steady_clock::duration>;

  Group() : state_(std::make_shared<State>()) {}

  // Returns the outcome of the load for `key`: started now with `loader` if
  // none is in flight, else the one in flight (and `loader` is dropped).
  // `loader` is a callable `() -> asio::awaitable<T>`, T one of V,
  // std::shared_ptr<const V>, or a boost::system::result<either, E> for a
  // loader that returns its failure instead of throwing it. It is moved into the
  // coroutine that runs it, so what it captures lives as long as the load.
  template <class Loader>
  boost::asio::awaitable<Result<V>> run(Key key, Loader loader, WaitTimeout timeout = std::nullopt) {
    auto executor = co_await boost::asio::this_coro::executor;
    auto [flight, leader] = state_->join_or_start(key, executor);
    const bool led = leader;
    auto start_load = [&, leader = leader, flight = flight] {
      if (!leader) return;
      boost::asio::co_spawn(executor, drive(state_, key, flight, std::move(loader)), boost::asio::detached);
    };
    Result<V> result =
        co_await internal::async_wait<V>(flight, executor, timeout, start_load, boost::asio::use_awaitable);
    result.leader = led;
    co_return result;
  }

  // The same for a plain thread: `fn` is `() -> V` and runs on the calling
  // thread if it leads; otherwise the thread blocks until the load finishes.
  // REQUIRES: not called from a thread running an io_context (that would
  // block the thread, which is what run() exists to avoid).
  template <class Fn>
  Result<V> run_blocking(Key key, Fn fn) {
    auto [flight, leader] = state_->join_or_start(key, std::nullopt);
    auto waiter = std::make_shared<internal::BlockingWaiter<V>>();
    auto future = waiter->future();
    flight->add(waiter);
    if (leader) {
      internal::Outcome<V> outcome;
      try {
        outcome.value = internal::to_shared<V>(fn());
      } catch (...) {
        outcome.error = std::current_exception();
      }
      state_->finish(key, flight, std::move(outcome));
    }
    return future.get();
  }

  // The next run() for `key` starts a new load. Returns whether a load was
  // in flight.
  bool forget(const Key& key) { return state_->forget(key); }

  // Number of keys with a load in flight.
  std::size_t in_flight() const { return state_->in_flight(); }

  GroupStats stats() const {
    return {state_->loads_started.load(std::memory_order_relaxed),
            state_->callers_coalesced.load(std::memory_order_relaxed)};
  }

 private:
  using FlightPtr = std::shared_ptr<internal::Flight<V>>;

  struct State {
    static constexpr std::size_t kShards = 16;
    struct Shard {
      sync::Mutex mu;
      std::unordered_map<Key, FlightPtr, Hash, KeyEqual> flights MICQ_GUARDED_BY(mu);
    };
    std::array<Shard, kShards> shards;
    std::atomic<std::uint64_t> loads_started{0};
    std::atomic<std::uint64_t> callers_coalesced{0};

    Shard& shard_for(const Key& key) { return shards[Hash{}(key) % kShards]; }

    // `driver`: where the load will run if this caller leads.
    std::pair<FlightPtr, bool> join_or_start(const Key& key,
                                             const std::optional<boost::asio::any_io_executor>& driver) {
      Shard& shard = shard_for(key);
      sync::MutexLock lock(shard.mu);
      auto [it, inserted] = shard.flights.try_emplace(key);
      if (inserted) {
        it->second = std::make_shared<internal::Flight<V>>(driver);
        loads_started.fetch_add(1, std::memory_order_relaxed);
      } else {
        callers_coalesced.fetch_add(1, std::memory_order_relaxed);
      }
      it->second->note_caller();
      return {it->second, inserted};
    }

    void finish(const Key& key, const FlightPtr& flight, internal::Outcome<V> outcome) {
      {
        Shard& shard = shard_for(key);
        sync::MutexLock lock(shard.mu);
        auto it = shard.flights.find(key);
        if (it != shard.flights.end() && it->second == flight) shard.flights.erase(it);
      }
      flight->finish(std::move(outcome));
    }

    bool forget(const Key& key) {
      Shard& shard = shard_for(key);
      sync::MutexLock lock(shard.mu);
      return shard.flights.erase(key) > 0;
    }

    std::size_t in_flight() {
      std::size_t n = 0;
      for (auto& shard : shards) {
        sync::MutexLock lock(shard.mu);
        n += shard.flights.size();
      }
      return n;
    }
  };

  // Finishes the flight with "load abandoned" if the driving coroutine is
  // destroyed without completing (its executor was shut down).
  struct FinishGuard {
    std::shared_ptr<State> state;
    const Key* key;
    FlightPtr flight;
    bool done = false;
    ~FinishGuard() {
      if (!done) state->finish(*key, flight, internal::abandoned_outcome<V>());
    }
  };

  template <class Loader>
  static boost::asio::awaitable<void> drive(std::shared_ptr<State> state, Key key, FlightPtr flight,
                                            Loader loader) {
    FinishGuard guard{state, &key, flight};
    internal::Outcome<V> outcome = co_await internal::run_loader<V>(loader);
    guard.done = true;
    state->finish(key, flight, std::move(outcome));
  }

  std::shared_ptr<State> state_;
};

}  // namespace micq::coalesce

#endif  // MICQ_COALESCE_GROUP_H_
