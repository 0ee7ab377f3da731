// BuildAdmission: how many page builds serve runs at once, and what happens
// to the ones beyond (issue 13, overload). A build is what costs: a Redis
// read, an aggregator batch fanning out to every kind, a body to write.
// Hits never come here; a build joined by coalescing is one build.
//
//  * at most `max_in_flight` builds run; the next ones wait in arrival
//    order, at most `max_queued` of them, each at most `max_wait`;
//  * a build that cannot be admitted (the queue is full, or its wait ran
//    out) fails at once with 429 `overloaded`: the cache above serves a
//    stale page if it has one, and the client is told to come back later
//    instead of every dependency being blamed for a queue serve made.
//
// So under any load the aggregator sees at most `max_in_flight` of serve's
// batches (one page is at most one batch of 200 users), and an admitted
// request waits at most `max_wait` plus one build.
//
// Example:
//   BuildAdmission admission(executor, {.max_in_flight = 64});
//   AdmittedBuilder builder(admission, live_builder);  // a PageBuilder
//
// Thread safety: every member may be called from any thread. acquire() must
// be awaited on a strand or a one-thread io_context (a slot handed over is
// signalled by a timer cancel posted to the waiter's executor).
#ifndef MICQ_SERVE_BUILD_ADMISSION_H_
#define MICQ_SERVE_BUILD_ADMISSION_H_

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "api_error.h"
#include "page_builder.h"

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

// What a 429 for an unadmitted build says.
ApiError overloaded_error();

class BuildAdmission {
 public:
  explicit BuildAdmission(AdmissionOptions options) : options_(options) {}
  ~BuildAdmission();
  BuildAdmission(const BuildAdmission&) = delete;
  BuildAdmission& operator=(const BuildAdmission&) = delete;

  // Held while a build runs; the slot goes to the next waiter when the
  // permit is destroyed.
  class Permit {
   public:
    Permit(Permit&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    Permit& operator=(Permit&&) = delete;
    ~Permit() {
      if (owner_) owner_->release();
    }

   private:
    friend class BuildAdmission;
    explicit Permit(BuildAdmission* owner) : owner_(owner) {}
    BuildAdmission* owner_;
  };

  // A permit, waiting for a slot if all are taken; nullopt if the build is
  // not admitted (the queue is full, or the wait ran out).
  boost::asio::awaitable<std::optional<Permit>> acquire();

  AdmissionStats stats() const;

 private:
  struct Waiter;
  void release();

  const AdmissionOptions options_;
  mutable std::mutex mu_;
  std::size_t in_flight_ = 0;                  // guarded by mu_
  std::deque<std::shared_ptr<Waiter>> queue_;  // guarded by mu_; oldest first
  std::atomic<std::uint64_t> admitted_{0};
  std::atomic<std::uint64_t> rejected_queue_full_{0};
  std::atomic<std::uint64_t> rejected_wait_{0};
};

// A PageBuilder that admits each build through a BuildAdmission first.
class AdmittedBuilder final : public PageBuilder {
 public:
  AdmittedBuilder(BuildAdmission& admission, PageBuilder& inner) : admission_(admission), inner_(inner) {}
  boost::asio::awaitable<ApiResult<Page>> build(PageKey key, RecordNeed need) override;

 private:
  BuildAdmission& admission_;
  PageBuilder& inner_;
};

}  // namespace micq::serve

#endif  // MICQ_SERVE_BUILD_ADMISSION_H_
