#include "admission.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>

namespace micq::serve {

namespace asio = boost::asio;

ApiError overloaded_error(std::string_view what) {
  return {http::Status::too_many_requests, "overloaded",
          "The server is running as many " + std::string(what) + " as it takes; retry later."};
}

// One build waiting for a slot: a timer set to its deadline, cancelled
// early by the release that hands it a slot.
struct Admission::Waiter {
  explicit Waiter(const asio::any_io_executor& executor) : timer(executor) {}
  asio::steady_timer timer;
  // Guarded by Admission::mu_: another object's mutex, which an annotation
  // here cannot name (checked by review, not by clang).
  bool granted = false;
};

Admission::~Admission() = default;

asio::awaitable<std::optional<Admission::Permit>> Admission::acquire() {
  auto executor = co_await asio::this_coro::executor;
  std::shared_ptr<Waiter> waiter;
  {
    sync::MutexLock lock(mu_);
    if (in_flight_ < options_.max_in_flight && queue_.empty()) {
      ++in_flight_;
      admitted_.fetch_add(1, std::memory_order_relaxed);
      co_return Permit(this);
    }
    if (queue_.size() >= options_.max_queued || options_.max_wait.count() == 0) {
      rejected_queue_full_.fetch_add(1, std::memory_order_relaxed);
      co_return std::nullopt;
    }
    waiter = std::make_shared<Waiter>(executor);
    // Set under the lock: a release may cancel the timer (on its executor)
    // as soon as the waiter is in the queue.
    waiter->timer.expires_after(options_.max_wait);
    queue_.push_back(waiter);
  }
  auto [ec] = co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  (void)ec;  // expired or cancelled: `granted` says which counts
  sync::MutexLock lock(mu_);
  if (waiter->granted) {
    admitted_.fetch_add(1, std::memory_order_relaxed);
    co_return Permit(this);  // the releaser passed its slot on: in_flight_ is unchanged
  }
  queue_.erase(std::find(queue_.begin(), queue_.end(), waiter));
  rejected_wait_.fetch_add(1, std::memory_order_relaxed);
  co_return std::nullopt;
}

void Admission::release() {
  std::shared_ptr<Waiter> next;
  {
    sync::MutexLock lock(mu_);
    if (queue_.empty()) {
      --in_flight_;
      return;
    }
    next = std::move(queue_.front());
    queue_.pop_front();
    next->granted = true;
  }
  // The timer belongs to the waiter's executor: cancelled there, and the
  // waiter's last reference dropped there too (moved into the handler),
  // never on this thread while its strand winds down.
  auto executor = next->timer.get_executor();
  asio::post(executor, [next = std::move(next)] { next->timer.cancel(); });
}

AdmissionStats Admission::stats() const {
  AdmissionStats s;
  {
    sync::MutexLock lock(mu_);
    s.in_flight = in_flight_;
    s.queued = queue_.size();
  }
  s.admitted = admitted_.load(std::memory_order_relaxed);
  s.rejected_queue_full = rejected_queue_full_.load(std::memory_order_relaxed);
  s.rejected_wait = rejected_wait_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace micq::serve
