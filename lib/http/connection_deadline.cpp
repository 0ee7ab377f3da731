#include "connection_deadline.h"

namespace micq::http::internal {

std::shared_ptr<ConnectionDeadline> ConnectionDeadline::start(boost::asio::ip::tcp::socket& socket) {
  return std::make_shared<ConnectionDeadline>(socket);
}

ConnectionDeadline::ConnectionDeadline(boost::asio::ip::tcp::socket& socket)
    : socket_(&socket), timer_(socket.get_executor()) {}

void ConnectionDeadline::expires_at(Clock::time_point when) {
  deadline_ = when;
  expired_ = false;
  if (socket_ && when < armed_for_) arm(when);
}

void ConnectionDeadline::stop() {
  socket_ = nullptr;
  armed_for_ = Clock::time_point::min();  // never armed again
  timer_.cancel();
}

void ConnectionDeadline::arm(Clock::time_point when) {
  armed_for_ = when;
  // Setting the expiry cancels a wait still pending (its handler sees
  // operation_aborted and does nothing); the new wait replaces it.
  timer_.expires_at(when);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->on_timer();
  });
}

void ConnectionDeadline::on_timer() {
  if (!socket_) return;
  // A wait that completed just before a re-arm may run here early: every
  // wake compares the deadline of now with the clock, never the armed time.
  const auto now = Clock::now();
  if (deadline_ == Clock::time_point::max()) {
    armed_for_ = Clock::time_point::max();  // suspended: the next expires_at arms
  } else if (deadline_ > now) {
    arm(deadline_);
  } else {
    expired_ = true;
    armed_for_ = Clock::time_point::max();
    boost::system::error_code ignored;
    socket_->cancel(ignored);
  }
}

}  // namespace micq::http::internal
