// ConnectionDeadline against a real loopback socket on a one-thread
// io_context. Timers never fire early, so "not before" bounds are exact;
// "in time" bounds are generous (seconds) for a loaded machine.
#include "connection_deadline.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>
#include <chrono>

namespace micq::http::internal {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class ConnectionDeadlineTest : public ::testing::Test {
 protected:
  ConnectionDeadlineTest() : server_(ioc_), client_(ioc_) {
    tcp::acceptor acceptor(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    client_.connect(acceptor.local_endpoint());
    acceptor.accept(server_);
  }

  // Reads on the watched socket; records how it ended.
  void start_read() {
    server_.async_read_some(asio::buffer(sink_), [this](const error_code& ec, std::size_t n) {
      read_ec_ = ec;
      read_bytes_ = n;
      read_done_ = Clock::now();
      done_ = true;
    });
  }

  // Runs the io_context until the read ended (or 20 s: the test fails).
  void run_until_read() {
    auto give_up = Clock::now() + 20s;
    ioc_.restart();  // a context that ran out of work stays stopped
    while (!done_ && Clock::now() < give_up) ioc_.run_one_for(100ms);
    ASSERT_TRUE(done_) << "the read never ended";
  }

  // After `delay`, `action` runs on the io_context.
  template <class Action>
  void after(Clock::duration delay, Action action) {
    auto timer = std::make_shared<asio::steady_timer>(ioc_, delay);
    timer->async_wait([timer, action](const error_code&) { action(); });
  }

  void peer_sends() { asio::write(client_, asio::buffer("x", 1)); }

  asio::io_context ioc_{1};
  tcp::socket server_;
  tcp::socket client_;
  std::array<char, 16> sink_{};
  error_code read_ec_;
  std::size_t read_bytes_ = 0;
  Clock::time_point read_done_{};
  bool done_ = false;
};

TEST_F(ConnectionDeadlineTest, CancelsAPendingReadOnceItPasses) {
  auto deadline = ConnectionDeadline::start(server_);
  const auto started = Clock::now();
  deadline->expires_after(50ms);
  start_read();
  run_until_read();
  EXPECT_EQ(read_ec_, asio::error::operation_aborted);
  EXPECT_TRUE(deadline->expired());
  EXPECT_GE(read_done_ - started, 50ms);
  EXPECT_LT(read_done_ - started, 5s);
  deadline->stop();
}

TEST_F(ConnectionDeadlineTest, ADeadlineMovedLaterLetsTheReadFinish) {
  auto deadline = ConnectionDeadline::start(server_);
  deadline->expires_after(100ms);
  start_read();
  after(20ms, [&] { deadline->expires_after(30s); });
  after(400ms, [&] { peer_sends(); });  // long after the first deadline
  run_until_read();
  EXPECT_FALSE(read_ec_) << read_ec_.message();
  EXPECT_EQ(read_bytes_, 1u);
  EXPECT_FALSE(deadline->expired());
  deadline->stop();
}

TEST_F(ConnectionDeadlineTest, ADeadlineMovedEarlierArmsTheTimerAgain) {
  auto deadline = ConnectionDeadline::start(server_);
  const auto started = Clock::now();
  deadline->expires_after(60s);
  start_read();
  deadline->expires_after(50ms);
  run_until_read();
  EXPECT_EQ(read_ec_, asio::error::operation_aborted);
  EXPECT_TRUE(deadline->expired());
  EXPECT_LT(read_done_ - started, 10s);  // not the first deadline's minute
  deadline->stop();
}

TEST_F(ConnectionDeadlineTest, ASuspendedDeadlineCancelsNothingUntilSetAgain) {
  auto deadline = ConnectionDeadline::start(server_);
  deadline->expires_after(50ms);
  deadline->suspend();  // the timer, armed for 50 ms, wakes and finds no deadline
  start_read();
  after(400ms, [&] { peer_sends(); });
  run_until_read();
  EXPECT_FALSE(read_ec_) << read_ec_.message();
  EXPECT_FALSE(deadline->expired());

  // Set again, it is kept again.
  done_ = false;
  const auto started = Clock::now();
  deadline->expires_after(50ms);
  start_read();
  run_until_read();
  EXPECT_EQ(read_ec_, asio::error::operation_aborted);
  EXPECT_GE(read_done_ - started, 50ms);
  deadline->stop();
}

TEST_F(ConnectionDeadlineTest, AfterStopNothingIsCancelledAndTheWatchMayBeDropped) {
  auto deadline = ConnectionDeadline::start(server_);
  deadline->expires_after(50ms);
  deadline->stop();
  deadline->expires_after(10ms);  // ignored: stopped
  deadline.reset();               // the timer's handler may hold the last reference
  start_read();
  after(400ms, [&] { peer_sends(); });
  run_until_read();
  EXPECT_FALSE(read_ec_) << read_ec_.message();
}

}  // namespace
}  // namespace micq::http::internal
