// http::ClientPool against scripted peers on loopback (a peer is below the
// client's boundary: it plays what a misbehaving upstream would do). One
// deadline per request whatever the peer does (silent, stalling mid-answer,
// not reading), answers delimited by the end of the stream or chunked, the
// size limit, when a connection may be reused, and deadlines firing on a
// 2-thread io_context with every request on its own strand (this binary
// also runs under TSan).
#include "micq/http/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace micq::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// What a peer does with each accepted connection.
using Script = std::function<asio::awaitable<void>(tcp::socket&)>;

// A TCP peer on 127.0.0.1 running `script` for every connection, on its own
// thread and io_context (so the client's threads are the client's alone).
class ScriptedPeer {
 public:
  explicit ScriptedPeer(Script script)
      : acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), script_(std::move(script)) {
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~ScriptedPeer() {
    ioc_.stop();
    thread_.join();
  }
  Upstream upstream() const { return {"127.0.0.1", acceptor_.local_endpoint().port()}; }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto accept = acceptor_.async_accept(asio::use_awaitable);
      tcp::socket socket = co_await std::move(accept);
      asio::co_spawn(ioc_, run(std::move(socket)), asio::detached);
    }
  }
  asio::awaitable<void> run(tcp::socket socket) {
    auto step = script_(socket);
    co_await std::move(step);
  }

  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  Script script_;
  std::thread thread_;
};

// Reads one request (these are small: one read holds it).
asio::awaitable<bool> read_request(tcp::socket& socket) {
  std::string buffer(4096, '\0');
  auto read = socket.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
  auto [ec, n] = co_await std::move(read);
  co_return !ec;
}

// Holds the connection open and never answers.
asio::awaitable<void> hold(tcp::socket& socket) {
  for (;;) {
    auto read = read_request(socket);
    const bool got = co_await std::move(read);
    if (!got) co_return;
  }
}

// Reads one request and writes `bytes`; false once the client is gone.
asio::awaitable<bool> answer_one(tcp::socket& socket, std::string_view bytes) {
  auto read = read_request(socket);
  const bool got = co_await std::move(read);
  if (!got) co_return false;
  auto write = asio::async_write(socket, asio::buffer(bytes), asio::as_tuple(asio::use_awaitable));
  auto [ec, n] = co_await std::move(write);
  co_return !ec;
}

asio::awaitable<void> answer_ok(tcp::socket& socket) {
  for (;;) {
    auto answer = answer_one(socket, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    const bool sent = co_await std::move(answer);
    if (!sent) co_return;
  }
}

asio::awaitable<void> stall_mid_answer(tcp::socket& socket) {
  auto answer = answer_one(socket, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
  co_await std::move(answer);
  auto held = hold(socket);
  co_await std::move(held);
}

asio::awaitable<void> answer_until_close(tcp::socket& socket) {
  auto answer = answer_one(socket, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello");
  co_await std::move(answer);
  socket.close();
}

// Two answers to each request: the second one nobody asked for.
asio::awaitable<void> answer_twice(tcp::socket& socket) {
  for (;;) {
    auto answer = answer_one(
        socket,
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale");
    const bool sent = co_await std::move(answer);
    if (!sent) co_return;
  }
}

asio::awaitable<void> answer_chunked(tcp::socket& socket) {
  auto answer = answer_one(socket,
                           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n");
  co_await std::move(answer);
  auto held = hold(socket);
  co_await std::move(held);
}

asio::awaitable<void> answer_big(tcp::socket& socket) {
  std::string answer_bytes = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'x');
  auto answer = answer_one(socket, answer_bytes);
  co_await std::move(answer);
  auto held = hold(socket);
  co_await std::move(held);
}

// Accepts and never reads: the client's sends fill the socket buffers.
asio::awaitable<void> never_read(tcp::socket& socket) {
  asio::steady_timer forever(socket.get_executor(), std::chrono::hours(1));
  auto wait = forever.async_wait(asio::as_tuple(asio::use_awaitable));
  co_await std::move(wait);
}

struct Outcome {
  boost::system::error_code error;
  std::string body;
  Clock::duration took{};
};

asio::awaitable<Outcome> call(ClientPool& pool, std::chrono::milliseconds deadline, std::string body = "{}") {
  const auto start = Clock::now();
  auto request = pool.request(boost::beast::http::verb::post, "/x", std::move(body), deadline);
  auto answer = co_await std::move(request);
  Outcome outcome;
  outcome.took = Clock::now() - start;
  if (answer) {
    outcome.body = answer->body();
  } else {
    outcome.error = answer.error();
  }
  co_return outcome;
}

asio::awaitable<std::vector<Outcome>> calls(ClientPool& pool, int count, std::chrono::milliseconds deadline) {
  std::vector<Outcome> outcomes;
  for (int i = 0; i < count; ++i) {
    auto one = call(pool, deadline);
    Outcome outcome = co_await std::move(one);
    outcomes.push_back(std::move(outcome));
  }
  co_return outcomes;
}

// `count` requests one after another through one pool.
std::vector<Outcome> in_sequence(const Upstream& upstream, int count, std::chrono::milliseconds deadline,
                                 ClientOptions options = {}) {
  asio::io_context ioc;
  ClientPool pool(ioc.get_executor(), upstream, std::move(options));
  auto result = asio::co_spawn(ioc, calls(pool, count, deadline), asio::use_future);
  ioc.run();
  return result.get();
}

Outcome call_once(const Upstream& upstream, std::chrono::milliseconds deadline, ClientOptions options = {}) {
  return in_sequence(upstream, 1, deadline, std::move(options)).front();
}

// `script`, counting the connections it serves.
Script counting(std::atomic<int>& connections, Script script) {
  return [&connections, script = std::move(script)](tcp::socket& socket) {
    connections.fetch_add(1);
    return script(socket);
  };
}

TEST(ClientPoolAgainstPeers, ASilentPeerTimesOutAtTheDeadlineAndFreesTheConnection) {
  ScriptedPeer peer(hold);
  ClientOptions one_connection;
  one_connection.max_connections = 1;
  auto outcomes = in_sequence(peer.upstream(), 3, 200ms, one_connection);
  // With one connection allowed, the second and third calls would fail at
  // once (no_buffer_space) if a timed-out connection were not released.
  for (const auto& outcome : outcomes) {
    EXPECT_EQ(outcome.error, beast::error::timeout) << outcome.error.message();
    EXPECT_GE(outcome.took, 200ms);
    EXPECT_LT(outcome.took, 5s);  // generous: a missed deadline would hang
  }
}

TEST(ClientPoolAgainstPeers, APeerStallingMidAnswerTimesOutAtTheDeadline) {
  ScriptedPeer peer(stall_mid_answer);
  auto outcome = call_once(peer.upstream(), 200ms);
  EXPECT_EQ(outcome.error, beast::error::timeout) << outcome.error.message();
  EXPECT_GE(outcome.took, 200ms);
  EXPECT_LT(outcome.took, 5s);
}

TEST(ClientPoolAgainstPeers, AnAnswerEndedByClosingTheConnectionIsWhole) {
  ScriptedPeer peer(answer_until_close);
  auto outcome = call_once(peer.upstream(), 2s);
  ASSERT_FALSE(outcome.error) << outcome.error.message();
  EXPECT_EQ(outcome.body, "hello");
}

TEST(ClientPoolAgainstPeers, AChunkedAnswerIsReassembled) {
  ScriptedPeer peer(answer_chunked);
  auto outcome = call_once(peer.upstream(), 2s);
  ASSERT_FALSE(outcome.error) << outcome.error.message();
  EXPECT_EQ(outcome.body, "hello");
}

TEST(ClientPoolAgainstPeers, AnAnswerOverTheSizeLimitIsAnError) {
  ScriptedPeer peer(answer_big);
  ClientOptions small;
  small.max_response_bytes = 999;
  auto outcome = call_once(peer.upstream(), 2s, small);
  EXPECT_EQ(outcome.error, beast::http::error::body_limit) << outcome.error.message();
  ClientOptions enough;
  enough.max_response_bytes = 1000;
  EXPECT_EQ(call_once(peer.upstream(), 2s, enough).body.size(), 1000u);
}

TEST(ClientPoolAgainstPeers, AKeptAliveConnectionServesTheNextRequest) {
  std::atomic<int> connections{0};
  ScriptedPeer peer(counting(connections, answer_ok));
  auto outcomes = in_sequence(peer.upstream(), 2, 2s);
  EXPECT_EQ(outcomes[0].body + outcomes[1].body, "okok");
  EXPECT_EQ(connections.load(), 1);
}

TEST(ClientPoolAgainstPeers, BytesPastTheAnswerRetireTheConnection) {
  std::atomic<int> connections{0};
  ScriptedPeer peer(counting(connections, answer_twice));
  auto outcomes = in_sequence(peer.upstream(), 2, 2s);
  // Reusing the connection would hand the second request the first one's
  // unasked-for "stale" answer.
  EXPECT_EQ(outcomes[0].body + "," + outcomes[1].body, "ok,ok");
  EXPECT_EQ(connections.load(), 2);
}

TEST(ClientPoolAgainstPeers, ASendToAPeerThatStopsReadingTimesOutAtTheDeadline) {
  ScriptedPeer peer(never_read);
  asio::io_context ioc;
  ClientPool pool(ioc.get_executor(), peer.upstream());
  // Far more than loopback's socket buffers hold: the write cannot finish.
  std::string body(std::size_t{64} << 20, 'x');
  auto result = asio::co_spawn(ioc, call(pool, 300ms, std::move(body)), asio::use_future);
  ioc.run();
  auto outcome = result.get();
  EXPECT_EQ(outcome.error, beast::error::timeout) << outcome.error.message();
  EXPECT_GE(outcome.took, 300ms);
  EXPECT_LT(outcome.took, 5s);
}

// Deadlines firing while other requests complete, on two threads: every
// request on its own strand, as the server runs its connections. TSan would
// see a deadline handler racing a request's steps.
TEST(ClientPoolAgainstPeers, DeadlinesOnTwoThreadsEachRequestOnItsStrand) {
  ScriptedPeer silent(hold);
  ScriptedPeer answering(answer_ok);
  asio::io_context ioc;
  ClientPool silent_pool(ioc.get_executor(), silent.upstream());
  ClientPool answering_pool(ioc.get_executor(), answering.upstream());
  // Thirds: answered well within the deadline; a silent peer (timeout);
  // deadlines of 0-3 ms that race the answer (either outcome, nothing else).
  constexpr int kRequests = 600;
  std::atomic<int> answered{0};
  std::atomic<int> timed_out{0};
  std::atomic<int> raced{0};
  std::atomic<int> wrong{0};
  for (int i = 0; i < kRequests; ++i) {
    auto strand = asio::make_strand(ioc);
    const int group = i % 3;
    ClientPool& pool = group == 1 ? silent_pool : answering_pool;
    auto deadline = group == 0   ? 5000ms
                    : group == 1 ? std::chrono::milliseconds(20 + i % 30)
                                 : std::chrono::milliseconds(i % 4);
    asio::co_spawn(strand, call(pool, deadline),
                   [&, group](const std::exception_ptr& error, const Outcome& outcome) {
                     const bool ok = !error && !outcome.error && outcome.body == "ok";
                     const bool timeout = !error && outcome.error == beast::error::timeout;
                     if (group == 0 && ok) {
                       answered.fetch_add(1);
                     } else if (group == 1 && timeout) {
                       timed_out.fetch_add(1);
                     } else if (group == 2 && (ok || timeout)) {
                       raced.fetch_add(1);
                     } else {
                       wrong.fetch_add(1);
                     }
                   });
  }
  std::thread second([&] { ioc.run(); });
  ioc.run();
  second.join();
  EXPECT_EQ(answered.load(), kRequests / 3);
  EXPECT_EQ(timed_out.load(), kRequests / 3);
  EXPECT_EQ(raced.load(), kRequests / 3);
  EXPECT_EQ(wrong.load(), 0);
  // The answering peer never closes a connection: a retry could only come
  // from a deadline that closed a connection after it went back to the
  // pool (which the retry would otherwise hide).
  EXPECT_EQ(answering_pool.retries(), 0u);
}

}  // namespace
}  // namespace micq::http
