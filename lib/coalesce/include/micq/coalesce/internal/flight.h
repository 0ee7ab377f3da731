// Internal to micq::coalesce: one in-flight load (a Flight) and the callers
// waiting on it (Waiters). Not part of the public API.
//
// The rule that keeps every caller completing exactly once: a Waiter is
// completed only by whoever wins Waiter::claim() — the flight's leader
// (delivering the outcome), the caller's cancellation slot, or its deadline.
// Everyone else who reaches it later does nothing.
#ifndef MICQ_COALESCE_INTERNAL_FLIGHT_H_
#define MICQ_COALESCE_INTERNAL_FLIGHT_H_

#include <any>
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "micq/coalesce/result.h"
#include "micq/sync/mutex.h"

namespace micq::coalesce::internal {

namespace asio = boost::asio;

// What a finished load produced: exactly one of the three is set.
template <class V>
struct Outcome {
  std::shared_ptr<const V> value;
  std::exception_ptr error;  // the loader threw
  ErrorValue error_value;    // the loader returned an error
};

template <class V>
Result<V> make_result(const Outcome<V>& outcome, bool shared) {
  Result<V> result;
  result.status = outcome.value ? Status::kOk : Status::kLoadFailed;
  result.value = outcome.value;
  result.error = outcome.error;
  result.error_value = outcome.error_value;
  result.shared = shared;
  return result;
}

template <class V>
Result<V> make_left_result(Status why) {
  Result<V> result;
  result.status = why;
  return result;
}

// Lets a loader return either V or std::shared_ptr<const V> (the latter
// when it already holds the value shared, as the cache does).
template <class V, class T>
std::shared_ptr<const V> to_shared(T&& loaded) {
  if constexpr (std::is_convertible_v<std::decay_t<T>, std::shared_ptr<const V>>) {
    return std::shared_ptr<const V>(std::forward<T>(loaded));
  } else {
    return std::make_shared<const V>(std::forward<T>(loaded));
  }
}

template <class T>
struct IsSystemResult : std::false_type {};
template <class T, class E>
struct IsSystemResult<boost::system::result<T, E>> : std::true_type {};

// The error a loader returned, shared by every waiter (an ErrorValue passed
// along by a loader in between stays the same one).
template <class E>
ErrorValue to_error_value(E&& error) {
  if constexpr (std::is_same_v<std::decay_t<E>, ErrorValue>) {
    return std::forward<E>(error);
  } else {
    return std::make_shared<const std::any>(std::in_place_type<std::decay_t<E>>, std::forward<E>(error));
  }
}

// What a loader's awaitable yielded — V, std::shared_ptr<const V>, or a
// boost::system::result of either — as an outcome.
template <class V, class T>
Outcome<V> to_outcome(T&& loaded) {
  Outcome<V> outcome;
  if constexpr (IsSystemResult<std::decay_t<T>>::value) {
    if (loaded.has_value()) {
      outcome.value = to_shared<V>(std::move(*loaded));
    } else {
      outcome.error_value = to_error_value(std::move(loaded).error());
    }
  } else {
    outcome.value = to_shared<V>(std::forward<T>(loaded));
  }
  return outcome;
}

// Runs a loader to its end: its value, the error it returned, or what it
// threw.
template <class V, class Loader>
asio::awaitable<Outcome<V>> run_loader(Loader& loader) {
  Outcome<V> outcome;
  try {
    auto loaded = co_await loader();
    outcome = to_outcome<V>(std::move(loaded));
  } catch (...) {
    outcome.error = std::current_exception();
  }
  co_return outcome;
}

// The outcome of a load whose coroutine was destroyed before it ended (its
// executor was shut down): its waiters fail instead of hanging.
template <class V>
Outcome<V> abandoned_outcome() {
  Outcome<V> outcome;
  outcome.error = std::make_exception_ptr(std::runtime_error("load abandoned: executor shut down"));
  return outcome;
}

template <class V>
class Flight;

template <class V>
class Waiter {
 public:
  virtual ~Waiter() = default;

  // True for exactly one caller over the waiter's life: the one that must
  // complete it.
  bool claim() { return !claimed_.exchange(true, std::memory_order_acq_rel); }
  bool claimed() const { return claimed_.load(std::memory_order_acquire); }

  // REQUIRES: this thread's claim() returned true. Delivers the result to the
  // caller (asynchronous waiters resume on their own executor).
  virtual void complete(Result<V> result) = 0;

 private:
  friend class Flight<V>;
  std::atomic<bool> claimed_{false};
  // Links of Flight::waiters_, an intrusive list (no node allocation per
  // caller). While linked, `self_` keeps the waiter alive for the list.
  // All three guarded by Flight::mu_ (another object's mutex, which an
  // annotation cannot name: checked by review, not by clang).
  Waiter* prev_ = nullptr;
  Waiter* next_ = nullptr;
  std::shared_ptr<Waiter> self_;
};

// One load in progress for one key. Shared by the group's map (until the
// load finishes or is forgotten), the coroutine driving the load, and every
// waiter (so that a waiter can leave).
//
// Thread-safe: every member function may be called from any thread.
template <class V>
class Flight {
 public:
  // `driver`: the executor the load runs on (its coroutine keeps that
  // executor's work count up), or null for a load run by a plain thread.
  explicit Flight(std::optional<asio::any_io_executor> driver = std::nullopt) : driver_(std::move(driver)) {}

  // Constant after construction.
  const std::optional<asio::any_io_executor>& driver() const { return driver_; }

  // Counts a caller that found (or created) this flight in the group's map.
  // Called under the map's lock, so every count happens before finish(),
  // which runs only after the flight has left the map.
  void note_caller() { callers_.fetch_add(1, std::memory_order_relaxed); }

  // Adds a caller. If the flight already finished (a caller that looked the
  // flight up just before the leader removed it), the caller gets the
  // outcome at once.
  void add(std::shared_ptr<Waiter<V>> waiter) {
    sync::MutexLock lock(mu_);
    if (finished_) {
      // A load that finished before its first caller was added (it ran
      // without suspending) still counts as not shared if nobody else came.
      Outcome<V> outcome = outcome_;
      bool shared = callers_.load(std::memory_order_relaxed) > 1;
      lock.unlock();
      if (waiter->claim()) waiter->complete(make_result(outcome, shared));
      return;
    }
    if (waiter->claimed()) return;  // cancelled before it got here
    Waiter<V>* raw = waiter.get();
    raw->self_ = std::move(waiter);
    raw->prev_ = tail_;
    raw->next_ = nullptr;
    (tail_ ? tail_->next_ : head_) = raw;
    tail_ = raw;
  }

  // Unlinks a waiter that left on its own (cancellation or deadline), so
  // that a load that never ends does not accumulate departed callers.
  void remove(Waiter<V>* waiter) {
    std::shared_ptr<Waiter<V>> released;  // dropped after the lock
    sync::MutexLock lock(mu_);
    if (!waiter->self_) return;  // not linked
    (waiter->prev_ ? waiter->prev_->next_ : head_) = waiter->next_;
    (waiter->next_ ? waiter->next_->prev_ : tail_) = waiter->prev_;
    waiter->prev_ = waiter->next_ = nullptr;
    released = std::move(waiter->self_);
  }

  // Completes every caller still waiting with `outcome`. Called once.
  void finish(Outcome<V> outcome) {
    std::vector<std::shared_ptr<Waiter<V>>> to_wake;
    bool shared;
    {
      sync::MutexLock lock(mu_);
      finished_ = true;
      outcome_ = outcome;
      shared = callers_.load(std::memory_order_relaxed) > 1;
      to_wake.reserve(callers_.load(std::memory_order_relaxed));
      for (Waiter<V>* w = head_; w;) {
        Waiter<V>* next = w->next_;
        w->prev_ = w->next_ = nullptr;
        to_wake.push_back(std::move(w->self_));  // unlinked: remove() is a no-op now
        w = next;
      }
      head_ = tail_ = nullptr;
    }
    for (auto& waiter : to_wake) {
      if (waiter->claim()) waiter->complete(make_result(outcome, shared));
    }
  }

 private:
  const std::optional<asio::any_io_executor> driver_;
  sync::Mutex mu_;
  bool finished_ MICQ_GUARDED_BY(mu_) = false;
  Outcome<V> outcome_ MICQ_GUARDED_BY(mu_);  // set when finished_
  std::atomic<std::size_t> callers_{0};      // leader included; see note_caller()
  Waiter<V>* head_ MICQ_GUARDED_BY(mu_) = nullptr;
  Waiter<V>* tail_ MICQ_GUARDED_BY(mu_) = nullptr;
};

// A coroutine (or any Asio completion handler) waiting on a flight.
template <class V, class Handler>
class AsyncWaiter final : public Waiter<V>, public std::enable_shared_from_this<AsyncWaiter<V, Handler>> {
 public:
  AsyncWaiter(Handler handler, std::shared_ptr<Flight<V>> flight, const asio::any_io_executor& fallback)
      : handler_(std::move(handler)),
        executor_(asio::get_associated_executor(handler_, fallback)),
        flight_(std::move(flight)) {
    // The caller's executor must not run out of work while it waits. The
    // load's own coroutine keeps its executor busy, so a waiter on that same
    // executor needs nothing more (the common case, and a saving of two
    // type-erased executor operations per caller).
    if (!flight_->driver() || !(*flight_->driver() == asio::any_io_executor(executor_))) {
      work_.emplace(asio::make_work_guard(executor_));
    }
  }

  // Connects the caller's cancellation slot and optional deadline. Either
  // one makes this caller leave; the load itself is never cancelled.
  void arm(std::optional<std::chrono::steady_clock::duration> timeout) {
    auto slot = asio::get_associated_cancellation_slot(handler_);
    if (slot.is_connected()) {
      slot.template emplace<LeaveOnCancel>(this->weak_from_this());
    }
    if (timeout) {
      deadline_.emplace(executor_, *timeout);
      deadline_->async_wait([weak = this->weak_from_this()](boost::system::error_code ec) {
        if (ec) return;  // cancelled: the waiter completed first
        if (auto self = weak.lock()) self->leave(Status::kTimedOut);
      });
    }
  }

  void complete(Result<V> result) override {
    // Resume the caller on its own executor, never inline on the leader's
    // stack: 10,000 waiters are spread over every thread of the pool.
    asio::post(executor_, [self = this->shared_from_this(), result = std::move(result)]() mutable {
      self->invoke(std::move(result));
    });
  }

 private:
  struct LeaveOnCancel {
    explicit LeaveOnCancel(std::weak_ptr<AsyncWaiter> w) : waiter(std::move(w)) {}
    std::weak_ptr<AsyncWaiter> waiter;
    void operator()(asio::cancellation_type_t) {
      if (auto self = waiter.lock()) self->leave(Status::kCancelled);
    }
  };

  void leave(Status why) {
    if (!this->claim()) return;
    flight_->remove(this);
    complete(make_left_result<V>(why));
  }

  void invoke(Result<V> result) {
    if (deadline_) deadline_->cancel();
    flight_.reset();
    auto handler = std::move(handler_);
    auto work = std::move(work_);
    std::move(handler)(std::move(result));
  }

  Handler handler_;
  asio::associated_executor_t<Handler, asio::any_io_executor> executor_;
  std::optional<asio::executor_work_guard<asio::associated_executor_t<Handler, asio::any_io_executor>>> work_;
  std::shared_ptr<Flight<V>> flight_;
  std::optional<asio::steady_timer> deadline_;
};

// A plain thread waiting on a flight (Group::run_blocking).
template <class V>
class BlockingWaiter final : public Waiter<V> {
 public:
  std::future<Result<V>> future() { return promise_.get_future(); }
  void complete(Result<V> result) override { promise_.set_value(std::move(result)); }

 private:
  std::promise<Result<V>> promise_;
};

// Suspends the calling coroutine until `flight` finishes, the caller is
// cancelled, or `timeout` passes. `after_joining` runs inside the
// initiation, before the caller can be resumed (the leader starts its load
// there).
template <class V, class AfterJoining, class Token>
auto async_wait(const std::shared_ptr<Flight<V>>& flight, const asio::any_io_executor& fallback,
                const std::optional<std::chrono::steady_clock::duration>& timeout,
                AfterJoining& after_joining, Token&& token) {
  return asio::async_initiate<Token, void(Result<V>)>(
      [](auto handler, std::shared_ptr<Flight<V>> flight, asio::any_io_executor fallback,
         std::optional<std::chrono::steady_clock::duration> timeout, AfterJoining after_joining) {
        using H = std::decay_t<decltype(handler)>;
        auto waiter = std::make_shared<AsyncWaiter<V, H>>(std::move(handler), flight, fallback);
        // Order matters. `after_joining` may read the caller's coroutine
        // frame, so it runs while nothing can complete the waiter yet. Once
        // the waiter is armed and added it may be completed, and the caller
        // resumed and its frame freed, on another thread at any moment:
        // nothing here touches the frame after that.
        std::move(after_joining)();
        waiter->arm(timeout);
        flight->add(std::move(waiter));
      },
      token, flight, fallback, timeout, std::move(after_joining));
}

}  // namespace micq::coalesce::internal

#endif  // MICQ_COALESCE_INTERNAL_FLIGHT_H_
