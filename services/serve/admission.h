// Admission: how much of what costs serve runs at once, and what happens
// to the work beyond (issue 13, overload). Serve has two: page builds (a
// Redis read, records, a body; bounds memory and Redis's queue) and
// aggregator batches (each fans out to every kind: the expensive part,
// and what a flood of cold keys multiplies). Hits never come here; a build
// or batch joined by coalescing is one.
//
//  * at most `max_in_flight` run; the next wait in arrival order, at most
//    `max_queued` of them, each at most `max_wait`;
//  * work that cannot be admitted (the queue is full, or its wait ran out)
//    fails at once with 429 `overloaded`: the cache above serves a stale
//    page if it has one, and the client is told when to come back, instead
//    of a healthy dependency being blamed for a queue serve made.
//
// So under any load the aggregator sees at most `max_in_flight` batches
// from a serve process, and an admitted request waits at most `max_wait`
// per admission plus its work.
//
// Example:
//   Admission builds({.max_in_flight = 1000});
//   AdmittedBuilder builder(builds, live_builder);  // page_builder.h
//   auto permit = co_await batches.acquire();      // or by hand
//   if (!permit) co_return overloaded_error("aggregator batches");
//
// Thread safety: every member may be called from any thread. acquire() must
// be awaited on a strand or a one-thread io_context (a slot handed over is
// signalled by a timer cancel posted to the waiter's executor).
#ifndef MICQ_SERVE_ADMISSION_H_
#define MICQ_SERVE_ADMISSION_H_

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "api_error.h"
#include "micq/sync/mutex.h"

namespace micq::serve {

struct AdmissionOptions {
  std::size_t max_in_flight = 64;
  std::size_t max_queued = 256;
  std::chrono::milliseconds max_wait{200};
};

struct AdmissionStats {
  std::uint64_t in_flight = 0;
  std::uint64_t queued = 0;
  std::uint64_t admitted = 0;
  std::uint64_t rejected_queue_full = 0;
  std::uint64_t rejected_wait = 0;
};

// The 429 for work not admitted; `what` names it ("page builds").
ApiError overloaded_error(std::string_view what);

class Admission {
 public:
  explicit Admission(AdmissionOptions options) : options_(options) {}
  ~Admission();
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // Held while a build runs; the slot goes to the next waiter when the
  // permit is destroyed.
  class Permit {
   public:
    Permit(Permit&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    Permit& operator=(Permit&& other) noexcept {
      if (this != &other) {
        if (owner_) owner_->release();
        owner_ = std::exchange(other.owner_, nullptr);
      }
      return *this;
    }
    ~Permit() {
      if (owner_) owner_->release();
    }

   private:
    friend class Admission;
    explicit Permit(Admission* owner) : owner_(owner) {}
    Admission* owner_;
  };

  // A permit, waiting for a slot if all are taken; nullopt if the build is
  // not admitted (the queue is full, or the wait ran out).
  boost::asio::awaitable<std::optional<Permit>> acquire();

  AdmissionStats stats() const;

 private:
  struct Waiter;
  void release();

  const AdmissionOptions options_;
  mutable sync::Mutex mu_;
  std::size_t in_flight_ MICQ_GUARDED_BY(mu_) = 0;
  std::deque<std::shared_ptr<Waiter>> queue_ MICQ_GUARDED_BY(mu_);  // oldest first
  std::atomic<std::uint64_t> admitted_{0};
  std::atomic<std::uint64_t> rejected_queue_full_{0};
  std::atomic<std::uint64_t> rejected_wait_{0};
};

}  // namespace micq::serve

#endif  // MICQ_SERVE_ADMISSION_H_
