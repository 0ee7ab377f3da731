// micq serve against SPEC §2, §5, §8: a real redis-server, a real
// aggregator and sim behind it, and the serve process under test.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <zlib.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <future>
#include <thread>
#include <vector>

#include "http_client.h"
#include "micq/redis/client.h"
#include "micq/redis/testing/redis_server.h"
#include "process.h"
#include "serve_stack.h"

namespace micq::testing {
namespace {

using namespace std::chrono_literals;
const Headers kAuth{{"Authorization", "Bearer s3cret"}};

// A blocking Redis command from the test thread, through micq's client.
redis::Reply redis_call(int port, redis::Command command) {
  boost::asio::io_context ioc;
  redis::RedisClient client(ioc.get_executor(), {"127.0.0.1", static_cast<std::uint16_t>(port)});
  redis::Reply out;
  boost::asio::co_spawn(
      ioc,
      [&]() -> boost::asio::awaitable<void> {
        auto call = client.command(std::move(command), 5s);
        auto reply = co_await std::move(call);
        if (reply) out = std::move(*reply);
        ioc.stop();  // the client's open connection would keep run() going
      },
      boost::asio::detached);
  ioc.run();
  return out;
}

class ServeTest : public ::testing::Test {
 protected:
  void start(const std::string& strategy, std::vector<std::string> extra = {},
             const std::string& sim_latency = "1") {
    ServeStack stack = start_serve_stack(redis_server.port(), strategy, std::move(extra), sim_latency);
    sim = std::move(stack.sim);
    aggregator = std::move(stack.aggregator);
    serve = std::move(stack.serve);
  }

  Reply events(const std::string& room, const std::string& body, Headers headers = kAuth) {
    return post(serve.port, "/v1/rooms/" + room + "/events", body, headers);
  }

  void seed(const std::string& room, int users) {
    std::string body = R"({"events":[)";
    for (int i = 0; i < users; ++i) {
      if (i) body += ",";
      // Scores with ties: equal scores must come in descending uid order.
      body += R"({"type":"gift","uid":"u)" + std::to_string(i) + R"(","value":)" +
              std::to_string(1 + (i % 7) * 100) + "}";
    }
    ASSERT_EQ(events(room, body + "]}").result_int(), 200);
  }

  redis::testing::RedisServer redis_server;
  Service sim, aggregator, serve;
};

TEST_F(ServeTest, ListMatchesRedisOrderRankScoreTotalVersion) {
  start("cached");
  seed("r1", 25);
  for (int page = 0; page < 3; ++page) {
    auto reply = get(serve.port, "/v1/rooms/r1/mic-queue?page=" + std::to_string(page) + "&size=10");
    ASSERT_EQ(reply.result_int(), 200) << reply.body();
    auto doc = parse(reply.body());
    auto expected = redis_call(redis_server.port(), {"ZREVRANGE", "micq:{r1}:rank", std::to_string(page * 10),
                                                     std::to_string(page * 10 + 9), "WITHSCORES"});
    ASSERT_EQ(doc["items"].Size() * 2, expected.elements.size());
    for (rapidjson::SizeType i = 0; i < doc["items"].Size(); ++i) {
      const auto& item = doc["items"][i];
      EXPECT_EQ(item["uid"].GetString(), expected.elements[i * 2].str);
      EXPECT_EQ(std::to_string(item["score"].GetInt64()), expected.elements[i * 2 + 1].str);
      EXPECT_EQ(item["rank"].GetInt(), page * 10 + static_cast<int>(i) + 1);
      EXPECT_TRUE(item["privileges"].HasMember("medal"));
    }
    EXPECT_EQ(doc["total"].GetInt64(), redis_call(redis_server.port(), {"ZCARD", "micq:{r1}:rank"}).integer);
    EXPECT_EQ(std::to_string(doc["version"].GetInt64()),
              redis_call(redis_server.port(), {"GET", "micq:{r1}:ver"}).str);
    EXPECT_EQ(doc["page"].GetInt(), page);
    EXPECT_EQ(doc["size"].GetInt(), 10);
  }
}

TEST_F(ServeTest, EmptyRoomIsNotAnError) {
  start("cached");
  auto reply = get(serve.port, "/v1/rooms/nobody-here/mic-queue");
  ASSERT_EQ(reply.result_int(), 200);
  auto doc = parse(reply.body());
  EXPECT_EQ(doc["total"].GetInt(), 0);
  EXPECT_EQ(doc["items"].Size(), 0u);
  EXPECT_EQ(doc["size"].GetInt(), 10) << "--page-size is the default";
}

TEST_F(ServeTest, BadListInputsAre400NamingTheParameter) {
  start("cached");
  EXPECT_EQ(error_code_of(get(serve.port, "/v1/rooms/" + std::string(65, 'r') + "/mic-queue").body()),
            "bad_room_id");
  EXPECT_EQ(error_code_of(get(serve.port, "/v1/rooms/r%201/mic-queue").body()), "bad_room_id");
  for (const char* query : {"page=-1", "page=1000", "page=x"}) {
    auto reply = get(serve.port, std::string("/v1/rooms/r1/mic-queue?") + query);
    EXPECT_EQ(reply.result_int(), 400);
    EXPECT_EQ(error_code_of(reply.body()), "bad_page") << query;
  }
  for (const char* query : {"size=0", "size=51", "size=ten"}) {
    EXPECT_EQ(error_code_of(get(serve.port, std::string("/v1/rooms/r1/mic-queue?") + query).body()),
              "bad_size");
  }
  EXPECT_EQ(get(serve.port, "/v1/rooms/r1/mic-queue?color=red").result_int(), 200)
      << "unknown parameters ignored";
}

TEST_F(ServeTest, BadEventsChangeNothing) {
  start("cached");
  seed("r1", 3);
  auto version_before = redis_call(redis_server.port(), {"GET", "micq:{r1}:ver"}).str;
  auto card_before = redis_call(redis_server.port(), {"ZCARD", "micq:{r1}:rank"}).integer;
  EXPECT_EQ(events("r1", R"({"type":"chat","uid":"u1"})", {}).result_int(), 401);
  EXPECT_EQ(events("r1", R"({"type":"chat","uid":"u1"})", {{"Authorization", "Bearer wrong"}}).result_int(),
            401);
  auto mixed =
      events("r1", R"({"events":[{"type":"enter","uid":"new"},{"type":"gift","uid":"u1","value":0}]})");
  EXPECT_EQ(mixed.result_int(), 400);
  EXPECT_EQ(error_code_of(mixed.body()), "bad_events");
  EXPECT_EQ(events("r1", "not json").result_int(), 400);
  EXPECT_EQ(events("r1", R"({"type":"chat","uid":"u1"})",
                   {{"Authorization", "Bearer s3cret"}, {"Idempotency-Key", std::string(129, 'k')}})
                .result_int(),
            400);
  EXPECT_EQ(redis_call(redis_server.port(), {"GET", "micq:{r1}:ver"}).str, version_before);
  EXPECT_EQ(redis_call(redis_server.port(), {"ZCARD", "micq:{r1}:rank"}).integer, card_before);
}

TEST_F(ServeTest, EventsApplyAsSpecified) {
  start("cached");
  auto applied = events("r1", R"({"events":[{"type":"enter","uid":"a"},{"type":"enter","uid":"b"},)"
                              R"({"type":"gift","uid":"a","value":10},{"type":"chat","uid":"b"},)"
                              R"({"type":"share","uid":"b"},{"type":"privilege","uid":"a"}]})");
  ASSERT_EQ(applied.result_int(), 200) << applied.body();
  auto answer = parse(applied.body());
  EXPECT_EQ(answer["applied"].GetInt(), 6);
  EXPECT_EQ(answer["version"].GetInt(), 1) << "one version step per request";
  EXPECT_EQ(redis_call(redis_server.port(), {"ZSCORE", "micq:{r1}:rank", "a"}).str, "10");
  EXPECT_EQ(redis_call(redis_server.port(), {"ZSCORE", "micq:{r1}:rank", "b"}).str, "6");
  ASSERT_EQ(events("r1", R"({"type":"enter","uid":"a"})").result_int(), 200);
  EXPECT_EQ(redis_call(redis_server.port(), {"ZSCORE", "micq:{r1}:rank", "a"}).str, "10")
      << "enter keeps a score";
  ASSERT_EQ(events("r1", R"({"type":"exit","uid":"a"})").result_int(), 200);
  EXPECT_EQ(redis_call(redis_server.port(), {"ZSCORE", "micq:{r1}:rank", "a"}).type,
            redis::Reply::Type::kNil);
}

TEST_F(ServeTest, IdempotentRetryAppliesOnceAndGetsTheFirstAnswer) {
  start("cached");
  Headers headers{{"Authorization", "Bearer s3cret"}, {"Idempotency-Key", "retry-1"}};
  auto first = events("r1", R"({"type":"gift","uid":"a","value":7})", headers);
  auto second = events("r1", R"({"type":"gift","uid":"a","value":7})", headers);
  ASSERT_EQ(first.result_int(), 200);
  EXPECT_EQ(second.body(), first.body());
  EXPECT_EQ(redis_call(redis_server.port(), {"ZSCORE", "micq:{r1}:rank", "a"}).str, "7");
  EXPECT_GT(redis_call(redis_server.port(), {"TTL", "micq:{r1}:idem:retry-1"}).integer, 86000);
}

TEST_F(ServeTest, ConcurrentGiftsAllCount) {
  start("cached");
  constexpr int kThreads = 50, kGifts = 20;
  std::atomic<long> accepted_coins{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int g = 0; g < kGifts; ++g) {
        int value = 1 + t + g;
        if (events("hot", R"({"type":"gift","uid":"whale","value":)" + std::to_string(value) + "}")
                .result_int() == 200) {
          accepted_coins += value;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(redis_call(redis_server.port(), {"ZSCORE", "micq:{hot}:rank", "whale"}).str,
            std::to_string(accepted_coins.load()));
  EXPECT_EQ(redis_call(redis_server.port(), {"GET", "micq:{hot}:ver"}).str,
            std::to_string(kThreads * kGifts));
}

// 200 concurrent GETs for one room while the aggregator is slow.
std::uint64_t batches_for_burst(int serve_port, int aggregator_port) {
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 200; ++i) {
    clients.emplace_back([&] { ok += get(serve_port, "/v1/rooms/r1/mic-queue").result_int() == 200; });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 200);
  return parse(get(aggregator_port, "/stats").body())["batches_total"].GetUint64();
}

TEST_F(ServeTest, SingleflightCoalescesABurst) {
  start("singleflight", {}, "300");
  seed("r1", 5);
  EXPECT_LE(batches_for_burst(serve.port, aggregator.port), 2u);
}

TEST_F(ServeTest, CachedCoalescesABurst) {
  start("cached", {}, "300");
  seed("r1", 5);
  EXPECT_LE(batches_for_burst(serve.port, aggregator.port), 2u);
}

TEST_F(ServeTest, DirectDoesTheWorkForEveryRequest) {
  // Builds enough for all 200 at once: this is about the work, not the bound.
  start("direct", {"--threads", "4", "--max-builds", "1000", "--max-batches", "1000"}, "300");
  seed("r1", 5);
  EXPECT_GE(batches_for_burst(serve.port, aggregator.port), 150u);
}

TEST_F(ServeTest, AClientThatLeavesWhileWaitingDoesNotCancelTheLoadForOthers) {
  start("cached", {}, "400");
  seed("r1", 3);
  // The first caller sends its request and hangs up at once, mid-load.
  auto abandoned = raw_exchange(serve.port, "GET /v1/rooms/r1/mic-queue HTTP/1.1\r\nHost: x\r\n\r\n",
                                std::chrono::milliseconds(50));
  EXPECT_TRUE(abandoned.received.empty()) << "left before the answer";
  auto reply = get(serve.port, "/v1/rooms/r1/mic-queue");
  EXPECT_EQ(reply.result_int(), 200);
  EXPECT_EQ(parse(get(aggregator.port, "/stats").body())["batches_total"].GetUint64(), 1u)
      << "the second caller joined the load the first one started";
}

TEST_F(ServeTest, TwoInstancesWithL2ShareOneBuild) {
  start("cached", {"--l2", "on", "--ttl-ms", "5000"}, "300");
  auto second = start_service({"serve", "--redis", "127.0.0.1:" + std::to_string(redis_server.port()),
                               "--aggregator", base_url(aggregator.port), "--strategy", "cached", "--l2",
                               "on", "--ttl-ms", "5000", "--upstream-timeout-ms", "3000"});
  seed("r1", 5);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 100; ++i) {
    int port = i % 2 ? serve.port : second.port;
    clients.emplace_back([&ok, port] { ok += get(port, "/v1/rooms/r1/mic-queue").result_int() == 200; });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 100);
  EXPECT_EQ(parse(get(aggregator.port, "/stats").body())["batches_total"].GetUint64(), 1u)
      << "one build for the whole fleet, not one per instance";
  EXPECT_EQ(get(serve.port, "/v1/rooms/r1/mic-queue").body(),
            get(second.port, "/v1/rooms/r1/mic-queue").body());
}

TEST_F(ServeTest, WithL2AnEventOnOneInstanceShowsOnTheOtherWithinOneTtl) {
  start("cached", {"--l2", "on", "--ttl-ms", "300"});
  auto second =
      start_service({"serve", "--redis", "127.0.0.1:" + std::to_string(redis_server.port()), "--aggregator",
                     base_url(aggregator.port), "--strategy", "cached", "--l2", "on", "--ttl-ms", "300"});
  seed("r1", 3);
  ASSERT_EQ(get(second.port, "/v1/rooms/r1/mic-queue").result_int(), 200);
  ASSERT_EQ(events("r1", R"({"type":"gift","uid":"newcomer","value":100000})").result_int(), 200);
  auto posted = std::chrono::steady_clock::now();
  std::string top;
  do {
    top = parse(get(second.port, "/v1/rooms/r1/mic-queue").body())["items"][0]["uid"].GetString();
  } while (top != "newcomer" && std::chrono::steady_clock::now() - posted < 5s);
  EXPECT_EQ(top, "newcomer");
  EXPECT_LT(std::chrono::steady_clock::now() - posted, 1s) << "within about one TTL, not kept alive by L2";
}

TEST_F(ServeTest, EtagGives304) {
  start("cached");
  seed("r1", 3);
  auto first = get(serve.port, "/v1/rooms/r1/mic-queue");
  std::string etag(first[boost::beast::http::field::etag]);
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(first[boost::beast::http::field::cache_control], "max-age=1");
  auto again = get(serve.port, "/v1/rooms/r1/mic-queue", {{"If-None-Match", etag}});
  EXPECT_EQ(again.result_int(), 304);
  EXPECT_TRUE(again.body().empty());
  EXPECT_EQ(get(serve.port, "/v1/rooms/r1/mic-queue", {{"If-None-Match", "\"other\""}}).result_int(), 200);
}

TEST_F(ServeTest, GzipWhenAsked) {
  start("cached");
  seed("r1", 10);
  auto plain = get(serve.port, "/v1/rooms/r1/mic-queue");
  auto zipped = get(serve.port, "/v1/rooms/r1/mic-queue", {{"Accept-Encoding", "gzip"}});
  ASSERT_EQ(zipped[boost::beast::http::field::content_encoding], "gzip");
  z_stream stream{};
  inflateInit2(&stream, 15 + 16);
  std::string out(4 << 20, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(zipped.body().data());
  stream.avail_in = static_cast<uInt>(zipped.body().size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  inflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  EXPECT_EQ(out, plain.body());
  EXPECT_LT(zipped.body().size(), plain.body().size());
}

TEST_F(ServeTest, GzipLevelZeroNeverCompresses) {
  start("cached", {"--gzip-level", "0"});
  seed("r1", 10);
  auto plain = get(serve.port, "/v1/rooms/r1/mic-queue");
  auto asked = get(serve.port, "/v1/rooms/r1/mic-queue", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(asked.result_int(), 200);
  EXPECT_TRUE(asked[boost::beast::http::field::content_encoding].empty());
  EXPECT_EQ(asked.body(), plain.body());
}

TEST_F(ServeTest, AnAppliedEventShowsWithinTheRebuildIntervalNotTheTtl) {
  start("cached", {"--ttl-ms", "60000"});
  seed("r1", 3);
  auto before = parse(get(serve.port, "/v1/rooms/r1/mic-queue").body());
  ASSERT_EQ(events("r1", R"({"type":"gift","uid":"newcomer","value":100000})").result_int(), 200);
  auto posted = std::chrono::steady_clock::now();
  rapidjson::Document after;
  do {
    after = parse(get(serve.port, "/v1/rooms/r1/mic-queue").body());
  } while (after["version"].GetInt() == before["version"].GetInt() &&
           std::chrono::steady_clock::now() - posted < 5s);
  EXPECT_STREQ(after["items"][0]["uid"].GetString(), "newcomer") << "the page was rebuilt in the background";
  EXPECT_GT(after["version"].GetInt(), before["version"].GetInt());
  EXPECT_LT(std::chrono::steady_clock::now() - posted, 2s)
      << "within the 50 ms rebuild interval, not the 60 s TTL";
}

TEST_F(ServeTest, APrivilegeChangeShowsWithinOneTtl) {
  start("cached", {"--ttl-ms", "300"});
  seed("r1", 1);
  auto gen = [&] {
    return parse(get(serve.port, "/v1/rooms/r1/mic-queue").body())["items"][0]["privileges"]["medal"]["gen"]
        .GetInt();
  };
  ASSERT_EQ(gen(), 0);
  ASSERT_EQ(post(sim.port, "/admin/users/u0/bump", "").result_int(), 200);
  auto bumped = std::chrono::steady_clock::now();
  while (gen() == 0 && std::chrono::steady_clock::now() - bumped < 5s) {
  }
  EXPECT_EQ(gen(), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - bumped, 2s) << "re-read within about one TTL";
}

TEST_F(ServeTest, StaleWithWarningWhileTheAggregatorIsDownThen503) {
  start("cached", {"--ttl-ms", "200", "--max-stale-ms", "1500", "--upstream-timeout-ms", "300"});
  seed("r1", 2);
  ASSERT_EQ(get(serve.port, "/v1/rooms/r1/mic-queue").result_int(), 200);
  ASSERT_TRUE(aggregator.process->terminate());
  auto stopped = std::chrono::steady_clock::now();
  Reply stale;
  do {
    stale = get(serve.port, "/v1/rooms/r1/mic-queue");
  } while (stale[boost::beast::http::field::warning].empty() &&
           std::chrono::steady_clock::now() - stopped < 1s);
  EXPECT_EQ(stale.result_int(), 200);
  EXPECT_EQ(stale[boost::beast::http::field::warning], "110 - \"stale\"");
  EXPECT_FALSE(stale[boost::beast::http::field::age].empty());
  Reply gone;
  do {
    gone = get(serve.port, "/v1/rooms/r1/mic-queue");
  } while (gone.result_int() == 200 && std::chrono::steady_clock::now() - stopped < 10s);
  EXPECT_EQ(gone.result_int(), 503);
  EXPECT_EQ(error_code_of(gone.body()), "aggregator_unavailable");
  EXPECT_GE(std::chrono::steady_clock::now() - stopped, 1500ms) << "not before max-stale ran out";
}

TEST_F(ServeTest, RedisDownEventsAre503AndNothingHalfAppliedThenRecover) {
  start("cached", {"--ttl-ms", "60000", "--upstream-timeout-ms", "300"});
  seed("r1", 2);
  ASSERT_EQ(get(serve.port, "/v1/rooms/r1/mic-queue").result_int(), 200);
  redis_server.kill();
  EXPECT_EQ(get(serve.port, "/v1/rooms/r1/mic-queue").result_int(), 200) << "cached page still served";
  auto refused = events("r1", R"({"type":"gift","uid":"u0","value":5})");
  EXPECT_EQ(refused.result_int(), 503);
  EXPECT_EQ(error_code_of(refused.body()), "redis_unavailable");
  redis_server.restart();
  Reply accepted;
  auto restarted = std::chrono::steady_clock::now();
  do {
    accepted = events("r1", R"({"type":"gift","uid":"u0","value":5})");
  } while (accepted.result_int() != 200 && std::chrono::steady_clock::now() - restarted < 10s);
  EXPECT_EQ(accepted.result_int(), 200) << "events work again once Redis is back";
}

// F1 (issue 13): Redis stalled past --upstream-timeout-ms with the events
// script already sent. The client is told the outcome is unknown, and the
// script, run once Redis resumes, refuses: the deadline has passed.
TEST_F(ServeTest, RedisPausedPastTheDeadlineAppliesNothingAndAnswersOutcomeUnknown) {
  start("cached", {"--upstream-timeout-ms", "300"});
  ASSERT_EQ(events("r1", R"({"type":"gift","uid":"u0","value":5})").result_int(), 200)
      << "the script is loaded before Redis stalls";
  auto evalsha_calls = [&] {
    std::string stats = redis_call(redis_server.port(), {"INFO", "commandstats"}).str;
    auto at = stats.find("cmdstat_evalsha:calls=");
    return at == std::string::npos ? -1 : std::atoi(stats.c_str() + at + 22);
  };
  ASSERT_EQ(evalsha_calls(), 1);
  redis_server.pause();
  auto unknown = events("r1", R"({"type":"gift","uid":"u0","value":7})");
  redis_server.resume();
  EXPECT_EQ(unknown.result_int(), 503);
  EXPECT_EQ(error_code_of(unknown.body()), "outcome_unknown") << unknown.body();
  // The stalled call reaches the script once Redis runs again.
  auto resumed = std::chrono::steady_clock::now();
  while (evalsha_calls() < 2 && std::chrono::steady_clock::now() - resumed < 10s) {
  }
  ASSERT_EQ(evalsha_calls(), 2) << "the stalled script ran";
  EXPECT_EQ(redis_call(redis_server.port(), {"ZSCORE", "micq:{r1}:rank", "u0"}).str, "5")
      << "nothing applied";
  EXPECT_EQ(redis_call(redis_server.port(), {"GET", "micq:{r1}:ver"}).str, "1");
}

// F6 (issue 13): scores stay below 2^53; a request that would pass that
// applies none of its events.
TEST_F(ServeTest, AScorePastTwoTo53IsScoreOverflowAndAppliesNothing) {
  start("cached");
  ASSERT_EQ(redis_call(redis_server.port(), {"ZADD", "micq:{r1}:rank", "9007199254740990", "top"}).integer,
            1);
  auto last_step = events("r1", R"({"type":"chat","uid":"top"})");
  ASSERT_EQ(last_step.result_int(), 200) << "2^53 - 1 itself is allowed: " << last_step.body();
  EXPECT_EQ(redis_call(redis_server.port(), {"ZSCORE", "micq:{r1}:rank", "top"}).str, "9007199254740991");
  auto over = events("r1", R"({"events":[{"type":"enter","uid":"other"},{"type":"chat","uid":"top"}]})");
  EXPECT_EQ(over.result_int(), 400);
  EXPECT_EQ(error_code_of(over.body()), "score_overflow") << over.body();
  EXPECT_NE(over.body().find("top"), std::string::npos) << "names the uid: " << over.body();
  EXPECT_EQ(redis_call(redis_server.port(), {"ZSCORE", "micq:{r1}:rank", "top"}).str, "9007199254740991");
  EXPECT_EQ(redis_call(redis_server.port(), {"ZSCORE", "micq:{r1}:rank", "other"}).type,
            redis::Reply::Type::kNil)
      << "the request's other events are not applied either";
  EXPECT_EQ(redis_call(redis_server.port(), {"GET", "micq:{r1}:ver"}).str, "1") << "no version step";
  // Within one request: a gift that a later exit and enter reset is fine,
  // the same gifts on a member that stays are not.
  ASSERT_EQ(redis_call(redis_server.port(), {"ZADD", "micq:{r1}:rank", "9007199254740000", "big"}).integer,
            1);
  auto reset = events("r1", R"({"events":[{"type":"exit","uid":"big"},{"type":"enter","uid":"big"},)"
                            R"({"type":"gift","uid":"big","value":1000000000}]})");
  EXPECT_EQ(reset.result_int(), 200) << reset.body();
  EXPECT_EQ(redis_call(redis_server.port(), {"ZSCORE", "micq:{r1}:rank", "big"}).str, "1000000000");
  ASSERT_EQ(redis_call(redis_server.port(), {"ZADD", "micq:{r1}:rank", "9007199254740000", "big"}).integer,
            0);
  auto twice = events("r1", R"({"events":[{"type":"gift","uid":"big","value":500},)"
                            R"({"type":"gift","uid":"big","value":500}]})");
  EXPECT_EQ(twice.result_int(), 400) << twice.body();
  auto page = get(serve.port, "/v1/rooms/r1/mic-queue");
  ASSERT_EQ(page.result_int(), 200);
  EXPECT_NE(page.body().find(R"("score":9007199254740991,)"), std::string::npos)
      << "an integer: " << page.body();
}

// F2 (issue 13): what serve keeps per room is bounded, however many
// distinct rooms are asked for (and events arrive for).
TEST_F(ServeTest, ManyDistinctRoomsKeepEveryPerRoomStructureBounded) {
  start("cached", {"--max-pages", "64"});
  for (int i = 0; i < 300; ++i) {
    std::string room = "never-entered-" + std::to_string(i);
    ASSERT_EQ(get(serve.port, "/v1/rooms/" + room + "/mic-queue").result_int(), 200);
    if (i % 3 == 0) {
      ASSERT_EQ(events(room, R"({"type":"privilege","uid":"x"})").result_int(), 200);
    }
  }
  EXPECT_LE(metric_value(serve.port, "micq_cache_entries"), 64);
  EXPECT_GE(metric_value(serve.port, "micq_cache_evictions_total"), 300 - 64);
  EXPECT_LE(metric_value(serve.port, "micq_rebuild_pages_tracked"), 2 * 64)
      << "the rebuild index follows the cache";
  EXPECT_GE(metric_value(serve.port, "micq_rebuild_pages_tracked"), 1);
}

// F4 (issue 13): builds and aggregator batches beyond their limits are not
// queued without end: past the queue a request gets a stale page if there
// is one, else 429. Run once with builds as the limit, once with batches.
class OverloadTest : public ServeTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void gift(const std::string& room, const std::string& uid) {
    ASSERT_EQ(events(room, R"({"type":"gift","uid":")" + uid + R"(","value":5})").result_int(), 200);
  }
};

TEST_P(OverloadTest, WorkBeyondTheLimitGetsAStalePageOr429) {
  const std::string& work = GetParam();  // "builds" or "batches"
  // One at a time, none waiting; every batch takes the sim's 1.5 s.
  start("cached", {"--max-" + work, "1", "--admission-wait-ms", "0", "--ttl-ms", "100"}, "1500");
  gift("r1", "a1");  // each room its own users: no batch is shared
  gift("r2", "b1");
  gift("r3", "c1");
  ASSERT_EQ(get(serve.port, "/v1/rooms/r1/mic-queue").result_int(), 200);
  // r1 is now past its 100 ms TTL (its build alone took 1.5 s). r2's build
  // takes the one slot; the test waits until serve says so.
  auto slow = std::async(std::launch::async, [&] { return get(serve.port, "/v1/rooms/r2/mic-queue"); });
  const std::string busy = "micq_admission_in_flight{work=\"" + work + "\"}";
  auto started = std::chrono::steady_clock::now();
  while (metric_value(serve.port, busy) != 1 && std::chrono::steady_clock::now() - started < 10s) {
  }
  ASSERT_EQ(metric_value(serve.port, busy), 1);

  auto cold = get(serve.port, "/v1/rooms/r3/mic-queue");
  EXPECT_EQ(cold.result_int(), 429) << cold.body();
  EXPECT_EQ(error_code_of(cold.body()), "overloaded");
  std::string retry_after(cold[boost::beast::http::field::retry_after]);
  EXPECT_TRUE(retry_after == "1" || retry_after == "2" || retry_after == "3")
      << "jittered 1..3 s: " << retry_after;

  auto expired = get(serve.port, "/v1/rooms/r1/mic-queue");
  EXPECT_EQ(expired.result_int(), 200) << "a stale page beats a 429: " << expired.body();
  EXPECT_NE(std::string(expired[boost::beast::http::field::warning]).find("110"), std::string::npos);

  EXPECT_EQ(slow.get().result_int(), 200) << "the admitted work completes";
  EXPECT_GE(
      metric_value(serve.port, "micq_admission_rejected_total{work=\"" + work + "\",reason=\"queue_full\"}"),
      2);
  EXPECT_EQ(get(serve.port, "/readyz").result_int(), 200) << "overload is not a dependency down";
}

INSTANTIATE_TEST_SUITE_P(Limits, OverloadTest, ::testing::Values("builds", "batches"),
                         [](const auto& info) { return info.param; });

TEST_F(ServeTest, ReadyzNamesWhatIsDown) {
  start("cached");
  EXPECT_EQ(get(serve.port, "/readyz").result_int(), 200);
  ASSERT_TRUE(aggregator.process->terminate());
  auto reply = get(serve.port, "/readyz");
  EXPECT_EQ(reply.result_int(), 503);
  EXPECT_NE(reply.body().find("aggregator"), std::string::npos);
}

TEST_F(ServeTest, EventsDisabledWithoutAToken) {
  sim = start_service({"sim", "--kinds", "1"});
  aggregator = start_service({"aggregator", "--downstream", base_url(sim.port), "--kinds", "1"});
  serve = start_service({"serve", "--redis", "127.0.0.1:" + std::to_string(redis_server.port()),
                         "--aggregator", base_url(aggregator.port)});
  auto reply = events("r1", R"({"type":"chat","uid":"u1"})");
  EXPECT_EQ(reply.result_int(), 503);
  EXPECT_EQ(error_code_of(reply.body()), "events_disabled");
}

TEST_F(ServeTest, MetricsShowCacheWork) {
  start("cached");
  seed("r1", 2);
  for (int i = 0; i < 5; ++i) get(serve.port, "/v1/rooms/r1/mic-queue");
  std::string metrics = get(serve.port, "/metrics").body();
  EXPECT_NE(metrics.find("micq_cache_hits_total 4"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("micq_page_loads_started_total 1"), std::string::npos);
  EXPECT_NE(metrics.find(R"(micq_http_requests_total{route="mic_queue",status="200"} 5)"), std::string::npos);
  EXPECT_NE(metrics.find("micq_aggregator_request_retries_total 0"), std::string::npos)
      << "the aggregator pool's retries, none on a healthy keep-alive connection";
}

}  // namespace
}  // namespace micq::testing
