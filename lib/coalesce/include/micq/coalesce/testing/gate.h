// Test helper: an event a coroutine can wait for and a test can open, so a
// test decides exactly when a load finishes instead of sleeping.
// Single-threaded use only (one io_context run by one thread), except where a
// test posts open() to the gate's executor.
#ifndef MICQ_COALESCE_TESTING_GATE_H_
#define MICQ_COALESCE_TESTING_GATE_H_

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

namespace micq::coalesce::testing {

class Gate {
 public:
  explicit Gate(const boost::asio::any_io_executor& ex)
      : timer_(ex, boost::asio::steady_timer::time_point::max()) {}

  boost::asio::awaitable<void> wait() {
    if (open_) co_return;
    auto [ec] = co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    (void)ec;
  }
  void open() {
    open_ = true;
    timer_.cancel();
  }
  bool is_open() const { return open_; }

 private:
  boost::asio::steady_timer timer_;
  bool open_ = false;
};

}  // namespace micq::coalesce::testing

#endif  // MICQ_COALESCE_TESTING_GATE_H_
