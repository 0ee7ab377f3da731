// RedisClient against a real redis-server (one private server per test),
// plus two stub servers for what Redis will not do on demand: a server that
// accepts and never answers, and one that hangs up at once.
#include "micq/redis/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "micq/redis/testing/redis_server.h"

namespace micq::redis {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using micq::redis::testing::RedisServer;
using CallResult = boost::system::result<Reply>;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Runs `body` on the single-threaded `ctx` until it and everything it left
// behind are done: a client destroyed at the end of `body` must let the
// context run out of work (no connection or coroutine left over).
template <class Body>
void run(asio::io_context& ctx, Body body, std::chrono::seconds limit = 15s) {
  bool finished = false;
  std::exception_ptr error;
  asio::co_spawn(ctx, std::move(body), [&](std::exception_ptr e) {
    error = std::move(e);
    finished = true;
  });
  ctx.run_for(limit);
  ASSERT_TRUE(finished) << "test body did not finish";
  EXPECT_TRUE(ctx.stopped()) << "work left on the context after the test body";
  if (error) std::rethrow_exception(error);
}

// Runs make(0) ... make(n - 1) concurrently on the current (single-threaded)
// executor and waits for all of them; a timer never due is the event.
template <class Make>
asio::awaitable<void> all(int n, Make make) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer done(executor, asio::steady_timer::time_point::max());
  int left = n;
  std::exception_ptr error;
  for (int i = 0; i < n; ++i) {
    auto op = make(i);
    asio::co_spawn(executor, std::move(op), [&](const std::exception_ptr& e) {
      if (e) error = e;
      if (--left == 0) done.cancel();
    });
  }
  // Cancelled only when the last one ends (and the timer is never due).
  if (left > 0) co_await done.async_wait(use_tuple);
  if (error) std::rethrow_exception(error);
}

asio::awaitable<void> pause(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(use_tuple);
}

// One command, made here from the caller's strings (or literals): g++ 12
// rejects a braced list inside a co_await expression (PR 103871,
// docs/design.md), so call sites pass the strings instead.
template <class... Args>
asio::awaitable<CallResult> cmd_within(std::chrono::milliseconds deadline, RedisClient& client,
                                       const Args&... args) {
  Command command{std::string(args)...};
  auto op = client.command(std::move(command), deadline);
  auto reply = co_await std::move(op);
  co_return reply;
}

template <class... Args>
asio::awaitable<CallResult> cmd(RedisClient& client, const Args&... args) {
  auto op = cmd_within(2s, client, args...);
  auto reply = co_await std::move(op);
  co_return reply;
}

bool is_string(const CallResult& r, std::string_view want) {
  return r && r->type == Reply::Type::kString && r->str == want;
}
bool is_status(const CallResult& r, std::string_view want) {
  return r && r->type == Reply::Type::kStatus && r->str == want;
}
bool is_integer(const CallResult& r, std::int64_t want) {
  return r && r->type == Reply::Type::kInteger && r->integer == want;
}
std::string describe(const CallResult& r) {
  if (!r) return "error_code " + r.error().message();
  return "reply type " + std::to_string(static_cast<int>(r->type)) + " '" + r->str + "' " +
         std::to_string(r->integer);
}

class RedisClientTest : public ::testing::Test {
 protected:
  Endpoint endpoint() const { return {"127.0.0.1", server_.port()}; }

  RedisServer server_;
  asio::io_context ctx_;
};

// A TCP server on loopback that accepts and then either never answers
// (kSilent) or closes each connection at once (kHangUp).
class StubServer {
 public:
  enum class Mode { kSilent, kHangUp };
  StubServer(asio::io_context& ctx, Mode mode)
      : mode_(mode), acceptor_(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(ctx, accept_loop(), asio::detached);
  }
  Endpoint endpoint() const { return {"127.0.0.1", acceptor_.local_endpoint().port()}; }
  int accepted() const { return accepted_; }
  void close() {
    acceptor_.close();
    sockets_.clear();
  }

 private:
  asio::awaitable<void> accept_loop() {
    while (true) {
      auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
      if (ec) co_return;
      ++accepted_;
      if (mode_ == Mode::kSilent) sockets_.push_back(std::move(socket));
    }
  }

  const Mode mode_;
  tcp::acceptor acceptor_;
  std::vector<tcp::socket> sockets_;
  int accepted_ = 0;
};

TEST(ParseEndpointTest, AcceptsHostAndPort) {
  auto plain = parse_endpoint("127.0.0.1:6379");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->host, "127.0.0.1");
  EXPECT_EQ(plain->port, 6379);
  auto named = parse_endpoint("redis.internal:1");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->host, "redis.internal");
  EXPECT_EQ(named->port, 1);
  auto v6 = parse_endpoint("[::1]:65535");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 65535);
}

TEST(ParseEndpointTest, RejectsMalformedText) {
  for (std::string_view bad : {"", "localhost", ":6379", "host:", "host:0", "host:65536", "host:12x",
                               "host:-1", "host: 1", "[]:6379"}) {
    auto parsed = parse_endpoint(bad);
    EXPECT_FALSE(parsed) << bad;
    if (!parsed) {
      EXPECT_NE(parsed.error().find(std::string(bad)), std::string::npos) << parsed.error();
    }
  }
}

TEST(ErrorCategoryTest, EveryErrorHasItsOwnMessage) {
  std::vector<std::string> messages;
  for (Error e : {Error::kUnavailable, Error::kTimeout, Error::kConnectionLost, Error::kProtocol}) {
    boost::system::error_code ec = e;
    EXPECT_EQ(&ec.category(), &error_category());
    EXPECT_EQ(ec, make_error_code(e));
    EXPECT_FALSE(ec.message().empty());
    for (const auto& other : messages) EXPECT_NE(ec.message(), other);
    messages.push_back(ec.message());
  }
  EXPECT_STREQ(error_category().name(), "micq.redis");
}

TEST_F(RedisClientTest, CommandRoundTrip) {
  run(ctx_, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx_.get_executor(), endpoint());
    auto set = co_await cmd(client, "SET", "greeting", "hello");
    EXPECT_TRUE(is_status(set, "OK")) << describe(set);
    auto get = co_await cmd(client, "GET", "greeting");
    EXPECT_TRUE(is_string(get, "hello")) << describe(get);
    auto first = co_await cmd(client, "INCR", "counter");
    EXPECT_TRUE(is_integer(first, 1)) << describe(first);
    auto second = co_await cmd(client, "INCR", "counter");
    EXPECT_TRUE(is_integer(second, 2)) << describe(second);
  });
}

TEST_F(RedisClientTest, MissingKeyIsANilReply) {
  run(ctx_, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx_.get_executor(), endpoint());
    auto get = co_await cmd(client, "GET", "no-such-key");
    EXPECT_TRUE(get && get->type == Reply::Type::kNil) << describe(get);
  });
}

TEST_F(RedisClientTest, RedisErrorIsAReplyNotAnErrorCode) {
  run(ctx_, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx_.get_executor(), endpoint());
    auto set = co_await cmd(client, "SET", "word", "not-a-number");
    EXPECT_TRUE(is_status(set, "OK")) << describe(set);
    auto incr = co_await cmd(client, "INCR", "word");
    EXPECT_TRUE(incr) << describe(incr);
    if (incr) {
      EXPECT_TRUE(incr->is_error());
      EXPECT_TRUE(incr->str.starts_with("ERR")) << incr->str;
    }
    // The connection is still in step after an error reply.
    auto get = co_await cmd(client, "GET", "word");
    EXPECT_TRUE(is_string(get, "not-a-number")) << describe(get);
  });
}

TEST_F(RedisClientTest, EmptyCommandGetsAnErrorReplyAndKeepsTheOrder) {
  run(ctx_, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx_.get_executor(), endpoint());
    std::vector<Command> commands{{"SET", "a", "1"}, {}, {"GET", "a"}};
    auto op = client.pipeline(std::move(commands), 2s);
    auto replies = co_await std::move(op);
    EXPECT_TRUE(replies) << replies.error().message();
    if (!replies) co_return;
    EXPECT_EQ(replies->size(), 3u);
    if (replies->size() != 3) co_return;
    EXPECT_EQ((*replies)[0].type, Reply::Type::kStatus);
    EXPECT_TRUE((*replies)[1].is_error());
    EXPECT_EQ((*replies)[2].str, "1");
  });
}

TEST_F(RedisClientTest, PipelineReturnsRepliesInOrder) {
  std::vector<Reply> replies;
  run(ctx_, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx_.get_executor(), endpoint());
    std::vector<Command> commands{
        {"SET", "room:1:version", "7"},
        {"ZADD", "room:1", "30", "alice", "10", "bob", "20", "carol"},
        {"ZREVRANGE", "room:1", "0", "-1", "WITHSCORES"},
        {"ZCARD", "room:1"},
        {"GET", "room:1:version"},
    };
    auto op = client.pipeline(std::move(commands), 2s);
    auto result = co_await std::move(op);
    EXPECT_TRUE(result) << result.error().message();
    if (result) replies = std::move(*result);
  });
  ASSERT_EQ(replies.size(), 5u);
  EXPECT_EQ(replies[0].type, Reply::Type::kStatus);
  EXPECT_EQ(replies[1].type, Reply::Type::kInteger);
  EXPECT_EQ(replies[1].integer, 3);
  ASSERT_EQ(replies[2].type, Reply::Type::kArray);
  std::vector<std::string> ranked;
  for (const auto& element : replies[2].elements) ranked.push_back(element.str);
  EXPECT_EQ(ranked, (std::vector<std::string>{"alice", "30", "carol", "20", "bob", "10"}));
  EXPECT_EQ(replies[3].integer, 3);
  EXPECT_EQ(replies[4].type, Reply::Type::kString);
  EXPECT_EQ(replies[4].str, "7");
}

TEST_F(RedisClientTest, LargeValueRoundTrip) {
  const std::string big(3 * 1024 * 1024 + 17, 'x');
  run(ctx_, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx_.get_executor(), endpoint());
    auto set = co_await cmd(client, "SET", "big", big);
    EXPECT_TRUE(is_status(set, "OK")) << describe(set);
    auto get = co_await cmd(client, "GET", "big");
    EXPECT_TRUE(get && get->str.size() == big.size() && get->str == big);
  });
}

TEST_F(RedisClientTest, ManyConcurrentCallersShareOneConnection) {
  constexpr int kCallers = 200;
  int matched = 0;
  run(ctx_, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx_.get_executor(), endpoint());
    auto callers = all(kCallers, [&](int i) -> asio::awaitable<void> {
      const std::string key = "key:" + std::to_string(i);
      const std::string value = "value:" + std::to_string(i);
      auto set = co_await cmd(client, "SET", key, value);
      auto get = co_await cmd(client, "GET", key);
      std::vector<Command> page{{"APPEND", key, "!"}, {"GET", key}, {"STRLEN", key}};
      auto op = client.pipeline(std::move(page), 2s);
      auto replies = co_await std::move(op);
      bool ok = is_status(set, "OK") && is_string(get, value) && replies && replies->size() == 3 &&
                (*replies)[1].str == value + "!" &&
                (*replies)[2].integer == static_cast<std::int64_t>(value.size() + 1);
      if (ok) ++matched;
    });
    co_await std::move(callers);
    auto info = co_await cmd(client, "INFO", "clients");
    EXPECT_TRUE(info && info->str.find("connected_clients:1\r\n") != std::string::npos) << describe(info);
  });
  EXPECT_EQ(matched, kCallers);
}

// Callers on four threads at once; TSan checks the strand discipline.
TEST_F(RedisClientTest, CallersOnManyThreadsGetTheirOwnReplies) {
  constexpr int kCallers = 400;
  asio::thread_pool pool(4);
  auto client = std::make_unique<RedisClient>(pool.get_executor(), endpoint());
  std::atomic<int> matched{0};
  std::atomic<int> left{kCallers};
  std::vector<std::atomic<int>> seen(kCallers + 1);
  std::promise<void> all_done;
  auto all_done_future = all_done.get_future();
  for (int i = 0; i < kCallers; ++i) {
    auto caller = [&client, &matched, &seen, i]() -> asio::awaitable<void> {
      const std::string key = "key:" + std::to_string(i);
      const std::string value = "value:" + std::to_string(i);
      auto set = co_await cmd_within(5s, *client, "SET", key, value);
      auto get = co_await cmd_within(5s, *client, "GET", key);
      std::vector<Command> commands{{"INCR", "counter"}, {"GET", key}};
      auto op = client->pipeline(std::move(commands), 5s);
      auto replies = co_await std::move(op);
      bool ok = is_status(set, "OK") && is_string(get, value) && replies && replies->size() == 2 &&
                (*replies)[1].str == value;
      if (ok) {
        auto n = (*replies)[0].integer;
        if (n >= 1 && n <= kCallers) seen[n]++;
        ++matched;
      }
    };
    asio::co_spawn(pool, std::move(caller), [&](const std::exception_ptr& e) {
      if (e) ADD_FAILURE() << "caller threw";
      if (--left == 0) all_done.set_value();
    });
  }
  bool finished = all_done_future.wait_for(30s) == std::future_status::ready;
  client.reset();  // from this (non-pool) thread, as a service's shutdown would
  if (!finished) pool.stop();
  pool.join();
  ASSERT_TRUE(finished);
  EXPECT_EQ(matched.load(), kCallers);
  // Every INCR result 1..kCallers came back to exactly one caller.
  for (int n = 1; n <= kCallers; ++n) EXPECT_EQ(seen[n].load(), 1) << n;
}

TEST_F(RedisClientTest, EvalLoadsAndRunsAScript) {
  const std::string script = "return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}";
  run(ctx_, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx_.get_executor(), endpoint());
    for (int expected : {5, 10}) {  // the second run uses the SHA1 from the first
      std::vector<std::string> keys{"total"};
      std::vector<std::string> args{"5"};
      auto op = client.eval(script, std::move(keys), std::move(args), 2s);
      auto reply = co_await std::move(op);
      EXPECT_TRUE(reply && reply->type == Reply::Type::kArray && reply->elements.size() == 3)
          << describe(reply);
      if (!reply || reply->elements.size() != 3) co_return;
      EXPECT_EQ(reply->elements[0].str, "total");
      EXPECT_EQ(reply->elements[1].str, "5");
      EXPECT_EQ(reply->elements[2].integer, expected);
    }
    auto cached = co_await cmd(client, "INFO", "memory");
    EXPECT_TRUE(cached && cached->str.find("number_of_cached_scripts:1\r\n") != std::string::npos)
        << describe(cached);
  });
}

TEST_F(RedisClientTest, EvalSurvivesScriptFlush) {
  const std::string script = "return redis.call('INCR', KEYS[1])";
  run(ctx_, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx_.get_executor(), endpoint());
    std::vector<std::string> keys{"n"};
    auto first_op = client.eval(script, keys, {}, 2s);
    auto first = co_await std::move(first_op);
    EXPECT_TRUE(is_integer(first, 1)) << describe(first);
    auto flush = co_await cmd(client, "SCRIPT", "FLUSH");
    EXPECT_TRUE(is_status(flush, "OK")) << describe(flush);
    // EVALSHA now answers NOSCRIPT: the client loads the script again.
    auto second_op = client.eval(script, keys, {}, 2s);
    auto second = co_await std::move(second_op);
    EXPECT_TRUE(is_integer(second, 2)) << describe(second);
  });
}

TEST_F(RedisClientTest, ScriptErrorsAreReplies) {
  run(ctx_, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx_.get_executor(), endpoint());
    auto failing_op = client.eval("return redis.error_reply('nope')", {}, {}, 2s);
    auto failing = co_await std::move(failing_op);
    EXPECT_TRUE(failing && failing->is_error() && failing->str.ends_with("nope")) << describe(failing);
    auto broken_op = client.eval("this is not lua", {}, {}, 2s);
    auto broken = co_await std::move(broken_op);  // SCRIPT LOAD's error reply
    EXPECT_TRUE(broken && broken->is_error()) << describe(broken);
  });
}

TEST_F(RedisClientTest, HostNamesAreResolved) {
  run(ctx_, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx_.get_executor(), Endpoint{"localhost", server_.port()});
    auto ping = co_await cmd(client, "PING");
    EXPECT_TRUE(is_status(ping, "PONG")) << describe(ping);
  });
}

TEST(RedisClientDeadlineTest, SilentServerTimesOutTheLateCallAndFailsTheOthers) {
  asio::io_context ctx;
  StubServer silent(ctx, StubServer::Mode::kSilent);
  CallResult late, other;
  Clock::duration late_took{}, other_took{};
  run(ctx, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx.get_executor(), silent.endpoint());
    auto start = Clock::now();
    auto callers = all(2, [&](int i) -> asio::awaitable<void> {
      if (i == 0) {
        late = co_await cmd_within(100ms, client, "PING");
        late_took = Clock::now() - start;
      } else {
        other = co_await cmd_within(10s, client, "PING");
        other_took = Clock::now() - start;
      }
    });
    co_await std::move(callers);
    silent.close();
  });
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error(), make_error_code(Error::kTimeout));
  EXPECT_GE(late_took, 90ms);
  EXPECT_LT(late_took, 2s);
  // The connection was reset: the other caller does not wait out its 10 s.
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error(), make_error_code(Error::kConnectionLost));
  EXPECT_LT(other_took, 2s);
}

TEST_F(RedisClientTest, BlockedCallTimesOutAndTheNextCallReconnects) {
  CallResult blocked, after;
  Clock::duration took{};
  run(ctx_, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx_.get_executor(), endpoint());
    auto start = Clock::now();
    blocked = co_await cmd_within(100ms, client, "BLPOP", "empty-list", "5");
    took = Clock::now() - start;
    co_await pause(300ms);  // past the back-off that follows the reset
    after = co_await cmd(client, "PING");
  });
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error(), make_error_code(Error::kTimeout));
  EXPECT_LT(took, 2s);  // BLPOP itself would take 5 s
  EXPECT_TRUE(is_status(after, "PONG")) << describe(after);
}

TEST_F(RedisClientTest, PastDeadlineFailsOnlyThatCall) {
  run(ctx_, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx_.get_executor(), endpoint());
    auto ping = co_await cmd(client, "PING");
    EXPECT_TRUE(is_status(ping, "PONG")) << describe(ping);
    auto late = co_await cmd_within(0ms, client, "PING");
    EXPECT_TRUE(!late && late.error() == make_error_code(Error::kTimeout)) << describe(late);
    auto again = co_await cmd(client, "PING");  // no reset, so no back-off
    EXPECT_TRUE(is_status(again, "PONG")) << describe(again);
  });
}

TEST_F(RedisClientTest, UnboundedDeadlineDoesNotOverflow) {
  run(ctx_, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx_.get_executor(), endpoint());
    auto ping = co_await cmd_within(std::chrono::milliseconds::max(), client, "PING");
    EXPECT_TRUE(is_status(ping, "PONG")) << describe(ping);
  });
}

TEST_F(RedisClientTest, ServerDownFailsFastThenBacksOff) {
  server_.stop();
  CallResult first, second;
  Clock::duration first_took{}, second_took{};
  run(ctx_, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx_.get_executor(), endpoint());
    auto start = Clock::now();
    first = co_await cmd_within(5s, client, "PING");
    first_took = Clock::now() - start;
    start = Clock::now();
    second = co_await cmd_within(5s, client, "PING");
    second_took = Clock::now() - start;
  });
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error(), make_error_code(Error::kUnavailable));
  EXPECT_LT(first_took, 1s);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), make_error_code(Error::kUnavailable));
  EXPECT_LT(second_took, 200ms);
}

TEST_F(RedisClientTest, LostConnectionFailsPendingCall) {
  CallResult during, after;
  run(ctx_, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx_.get_executor(), endpoint());
    auto ping = co_await cmd(client, "PING");
    EXPECT_TRUE(is_status(ping, "PONG")) << describe(ping);
    auto blocked = all(2, [&](int i) -> asio::awaitable<void> {
      if (i == 0) {
        during = co_await cmd_within(5s, client, "BLPOP", "empty-list", "5");
      } else {
        co_await pause(100ms);
        server_.kill();
      }
    });
    co_await std::move(blocked);
    after = co_await cmd(client, "PING");  // within the back-off window
  });
  ASSERT_FALSE(during);
  EXPECT_EQ(during.error(), make_error_code(Error::kConnectionLost));
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error(), make_error_code(Error::kUnavailable));
}

// A server that hangs up on every connection: the back-off is visible as
// calls that fail without a connection attempt (the stub counts them).
TEST(RedisClientBackoffTest, CallsDuringTheBackoffDoNotConnect) {
  asio::io_context ctx;
  StubServer hang_up(ctx, StubServer::Mode::kHangUp);
  CallResult first, during_backoff, after_backoff;
  int accepted_after_first = 0, accepted_during = 0;
  run(ctx, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx.get_executor(), hang_up.endpoint());
    first = co_await cmd_within(5s, client, "PING");
    accepted_after_first = hang_up.accepted();
    during_backoff = co_await cmd_within(5s, client, "PING");
    co_await pause(20ms);  // room for a connection the client should not make
    accepted_during = hang_up.accepted();
    co_await pause(300ms);  // past the 50 ms back-off after a lost connection
    after_backoff = co_await cmd_within(5s, client, "PING");
    hang_up.close();
  });
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error(), make_error_code(Error::kConnectionLost));
  EXPECT_EQ(accepted_after_first, 1);
  ASSERT_FALSE(during_backoff);
  EXPECT_EQ(during_backoff.error(), make_error_code(Error::kUnavailable));
  EXPECT_EQ(accepted_during, 1);
  ASSERT_FALSE(after_backoff);
  EXPECT_EQ(after_backoff.error(), make_error_code(Error::kConnectionLost));
  EXPECT_EQ(hang_up.accepted(), 2);
}

TEST_F(RedisClientTest, CallsWorkAgainAfterTheServerRestarts) {
  CallResult down, up, set, get;
  int attempts = 0;
  run(ctx_, [&]() -> asio::awaitable<void> {
    RedisClient client(ctx_.get_executor(), endpoint());
    auto before = co_await cmd(client, "SET", "k", "before");
    EXPECT_TRUE(is_status(before, "OK")) << describe(before);
    server_.kill();
    down = co_await cmd(client, "PING");
    server_.restart();
    // Back-off grows while the server was down (50 ms, 100 ms, ...): retry
    // until it lets a call through.
    auto give_up = Clock::now() + 8s;
    while (Clock::now() < give_up) {
      ++attempts;
      up = co_await cmd(client, "PING");
      if (up) break;
      co_await pause(25ms);
    }
    set = co_await cmd(client, "SET", "k", "after");
    get = co_await cmd(client, "GET", "k");
  });
  ASSERT_FALSE(down);
  EXPECT_TRUE(down.error() == make_error_code(Error::kConnectionLost) ||
              down.error() == make_error_code(Error::kUnavailable))
      << down.error().message();
  EXPECT_TRUE(is_status(up, "PONG")) << describe(up) << " after " << attempts << " attempts";
  EXPECT_TRUE(is_status(set, "OK")) << describe(set);
  EXPECT_TRUE(is_string(get, "after")) << describe(get);
}

TEST_F(RedisClientTest, DestroyingTheClientFailsPendingCalls) {
  constexpr int kCallers = 3;
  std::vector<CallResult> results(kCallers);
  Clock::duration slowest{};
  run(ctx_, [&]() -> asio::awaitable<void> {
    auto client = std::make_unique<RedisClient>(ctx_.get_executor(), endpoint());
    auto start = Clock::now();
    auto callers = all(kCallers + 1, [&](int i) -> asio::awaitable<void> {
      if (i < kCallers) {
        results[i] = co_await cmd_within(10s, *client, "BLPOP", "empty-list", "5");
        slowest = std::max(slowest, Clock::now() - start);
      } else {
        co_await pause(100ms);
        client.reset();
      }
    });
    co_await std::move(callers);
  });
  for (const auto& result : results) {
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), make_error_code(Error::kConnectionLost));
  }
  EXPECT_LT(slowest, 2s);
}

TEST_F(RedisClientTest, DestroyingClientAndContextWithCallsPendingIsSafe) {
  int started = 0;
  {
    asio::io_context ctx;
    auto client = std::make_unique<RedisClient>(ctx.get_executor(), endpoint());
    for (int i = 0; i < 3; ++i) {
      auto caller = [&]() -> asio::awaitable<void> {
        ++started;
        auto blocked = co_await cmd_within(10s, *client, "BLPOP", "empty-list", "5");
        ADD_FAILURE() << "an abandoned call completed: " << describe(blocked);
      };
      asio::co_spawn(ctx, std::move(caller), asio::detached);
    }
    ctx.run_for(100ms);
    client.reset();
    // The context goes without running again: the calls are abandoned, and
    // their frames (holding the client's state) are freed with it.
  }
  EXPECT_EQ(started, 3);
}

}  // namespace
}  // namespace micq::redis
