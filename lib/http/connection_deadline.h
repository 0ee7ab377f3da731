// ConnectionDeadline: the time by which a connection's pending read or
// write must finish, kept by one timer that wakes only when the time it was
// armed for comes. Setting the deadline is a store; the timer, on waking,
// re-arms for a deadline that moved on, or cancels the socket's pending
// operations (they complete with operation_aborted) once it has passed.
// beast::tcp_stream arms and cancels a timer around every read and write
// instead: a tenth of a cached hit's instructions.
//
// Example (on the connection's executor):
//   auto deadline = ConnectionDeadline::start(socket);
//   deadline->expires_after(read_timeout);
//   co_await async_read(socket, ...);   // cancelled if the deadline passes
//   deadline->suspend();                // a handler runs: no deadline
//   deadline->expires_after(write_timeout);
//   co_await async_write(socket, ...);
//   deadline->stop();                   // before the socket goes away
//
// Internal to micq_http (not in include/). Thread safety: none; every call,
// and the timer's handler, runs on the socket's executor (the connection's
// strand, or a one-thread io_context).
#ifndef MICQ_HTTP_CONNECTION_DEADLINE_H_
#define MICQ_HTTP_CONNECTION_DEADLINE_H_

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>

namespace micq::http::internal {

class ConnectionDeadline : public std::enable_shared_from_this<ConnectionDeadline> {
 public:
  using Clock = std::chrono::steady_clock;

  // Watches `socket`, which must outlive the watch until stop(). No
  // deadline until the first expires_at/expires_after.
  static std::shared_ptr<ConnectionDeadline> start(boost::asio::ip::tcp::socket& socket);

  // The socket's pending operations are cancelled once `when` has passed.
  // Moving the deadline later costs nothing; moving it before the time the
  // timer is armed for (or setting one while none is armed) arms the timer.
  void expires_at(Clock::time_point when);
  void expires_after(Clock::duration timeout) { expires_at(Clock::now() + timeout); }

  // No deadline until the next expires_at (while a handler runs and the
  // socket has no operation pending). The timer, if it wakes meanwhile,
  // is not armed again until then.
  void suspend() { deadline_ = Clock::time_point::max(); }

  // True once a deadline passed and the socket's operations were cancelled.
  bool expired() const { return expired_; }

  // Lets go of the socket: the timer is cancelled and never touches it
  // again. Call before the socket is closed for good or destroyed.
  void stop();

  // Use start() (the timer's handlers hold the watch by shared_ptr).
  explicit ConnectionDeadline(boost::asio::ip::tcp::socket& socket);

 private:
  void arm(Clock::time_point when);
  void on_timer();

  boost::asio::ip::tcp::socket* socket_;  // null once stopped
  boost::asio::steady_timer timer_;
  Clock::time_point deadline_ = Clock::time_point::max();
  Clock::time_point armed_for_ = Clock::time_point::max();  // when the timer wakes; max: not armed
  bool expired_ = false;
};

}  // namespace micq::http::internal

#endif  // MICQ_HTTP_CONNECTION_DEADLINE_H_
