// The hit path (issue 12): a cached page's answers go out as a prepared
// head plus shared bytes in one gather write. Over a real socket: pipelined
// requests of every kind answered in order and byte-exact, a page replaced
// while a slow reader is still taking its old version (which arrives whole
// and unchanged), and the write timeout closing a reader that stalls.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "http_client.h"
#include "micq/redis/testing/redis_server.h"
#include "micq/stack/commands.h"
#include "process.h"
#include "serve_stack.h"

namespace micq::testing {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
const Headers kAuth{{"Authorization", "Bearer s3cret"}};

// A client socket with a tiny receive buffer (so the server's writes pile
// up in the kernel) and a receive timeout (so a test never hangs on it).
tcp::socket slow_reader(asio::io_context& ctx, int port) {
  tcp::socket socket(ctx);
  socket.open(tcp::v4());
  socket.set_option(asio::socket_base::receive_buffer_size(4096));
  timeval timeout{10, 0};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  return socket;
}

// Each test runs twice: bodies sent from memory (--sendfile-min-bytes 0)
// and from a sealed file with sendfile(2) (--sendfile-min-bytes 1).
class HitPathTest : public ::testing::TestWithParam<const char*> {
 protected:
  void start(std::vector<std::string> flags, const std::string& payload_bytes = "1024") {
    flags.push_back("--sendfile-min-bytes");
    flags.push_back(GetParam());
    sim = start_service(
        {"sim", "--kinds", "4", "--latency-ms", "1", "--jitter-ms", "0", "--payload-bytes", payload_bytes});
    aggregator = start_service({"aggregator", "--downstream", base_url(sim.port), "--kinds", "4"});
    flags.insert(flags.begin(), {"--ttl-ms", "60000"});
    serve = start_service(stack::serve_command({.redis = "127.0.0.1:" + std::to_string(redis.port()),
                                                .aggregator_port = aggregator.port,
                                                .events_token = "s3cret"},
                                               flags));
  }
  void seed(int users) {
    ASSERT_EQ(post(serve.port, "/v1/rooms/r1/events", gifts_body(users), kAuth).result_int(), 200);
  }

  redis::testing::RedisServer redis;
  Service sim, aggregator, serve;
};

// "HTTP/1.1 ..." responses cut from a byte stream by their Content-Length
// (none for 304 and HEAD answers, whose heads are all there is).
struct Answer {
  std::string head;
  std::string body;
};
std::vector<Answer> split_answers(const std::string& bytes, const std::vector<bool>& has_body) {
  std::vector<Answer> answers;
  std::size_t at = 0;
  for (bool body : has_body) {
    auto end = bytes.find("\r\n\r\n", at);
    if (end == std::string::npos) break;
    Answer answer{bytes.substr(at, end + 4 - at), {}};
    at = end + 4;
    if (body) {
      auto length_at = answer.head.find("Content-Length: ");
      if (length_at == std::string::npos) break;
      std::size_t length = std::stoul(answer.head.substr(length_at + 16));
      answer.body = bytes.substr(at, length);
      at += length;
    }
    answers.push_back(std::move(answer));
  }
  return answers;
}

TEST_P(HitPathTest, PipelinedAnswersOfEveryKindComeInOrderWithTheirExactBytes) {
  start({});
  seed(5);
  Reply first = get(serve.port, "/v1/rooms/r1/mic-queue");  // now cached
  ASSERT_EQ(first.result_int(), 200);
  const std::string etag(first[boost::beast::http::field::etag]);
  const std::string get = "GET /v1/rooms/r1/mic-queue HTTP/1.1\r\nHost: x\r\n";
  auto exchange =
      raw_exchange(serve.port, get + "\r\n" +                                                   // identity
                                   get + "If-None-Match: " + etag + "\r\n\r\n" +                // 304
                                   get + "Accept-Encoding: gzip\r\n\r\n" +                      // gzip
                                   "HEAD /v1/rooms/r1/mic-queue HTTP/1.1\r\nHost: x\r\n\r\n" +  // HEAD
                                   get + "Connection: close\r\n\r\n");  // identity, closing
  EXPECT_TRUE(exchange.closed_by_server);
  auto answers = split_answers(exchange.received, {true, false, true, false, true});
  ASSERT_EQ(answers.size(), 5u) << exchange.received.substr(0, 400);
  EXPECT_EQ(answers[0].head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(answers[0].body, first.body()) << "the cached bytes";
  EXPECT_EQ(answers[0].head.find("Connection:"), std::string::npos);
  EXPECT_EQ(answers[1].head.rfind("HTTP/1.1 304 Not Modified\r\n", 0), 0u);
  EXPECT_NE(answers[1].head.find("ETag: " + etag + "\r\n"), std::string::npos);
  EXPECT_EQ(answers[1].head.find("Content-Length"), std::string::npos) << "a 304 has no body";
  EXPECT_NE(answers[2].head.find("Content-Encoding: gzip\r\n"), std::string::npos);
  EXPECT_EQ(answers[3].head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(answers[3].head.find("Content-Length: " + std::to_string(first.body().size()) + "\r\n"),
            std::string::npos)
      << "HEAD: the length of the body it does not send";
  // The closing answer: the same head with "Connection: close" and the
  // same body (from the sealed file, past the keep-alive head it holds).
  EXPECT_EQ(answers[4].head,
            answers[0].head.substr(0, answers[0].head.size() - 2) + "Connection: close\r\n\r\n");
  EXPECT_EQ(answers[4].body, first.body());
  std::size_t total = 0;
  for (const auto& answer : answers) total += answer.head.size() + answer.body.size();
  EXPECT_EQ(total, exchange.received.size()) << "nothing after the HEAD answer's head";
}

// A reader slower than the kernel's buffers is still being sent a body
// when events rebuild the page again and again (the cache lets go of it):
// it gets the old body whole, as it was (the ASan build would catch a
// freed buffer being sent).
TEST_P(HitPathTest, APageReplacedWhileASlowReaderIsSentItArrivesWholeAndUnchanged) {
  // 4 kinds x 16 KB x 50 users: ~3.3 MB a page, more than the kernel's
  // socket buffers take at once.
  start({"--rebuild-interval-ms", "0"}, "16384");
  seed(50);
  const std::string target = "/v1/rooms/r1/mic-queue?size=50";
  Reply warm = get(serve.port, target);
  ASSERT_EQ(warm.result_int(), 200);
  asio::io_context ctx;
  tcp::socket socket = slow_reader(ctx, serve.port);
  asio::write(socket, asio::buffer("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  // Not reading: the server's write is stuck in the kernel's buffers while
  // events replace the page many times over.
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(post(serve.port, "/v1/rooms/r1/events", R"({"type":"chat","uid":"u3"})", kAuth).result_int(),
              200);
  }
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    rapidjson::Document now = parse(get(serve.port, target).body());
    if (now.IsObject() && now["version"].GetInt64() >= 31) break;  // the cache holds the newest page
    std::this_thread::sleep_for(5ms);
  }
  // Now read it all, slowly.
  asio::streambuf buffer;
  asio::read_until(socket, buffer, "\r\n\r\n");
  std::string head(asio::buffers_begin(buffer.data()), asio::buffers_end(buffer.data()));
  head = head.substr(0, head.find("\r\n\r\n") + 4);
  buffer.consume(head.size());
  auto length_at = head.find("Content-Length: ");
  ASSERT_NE(length_at, std::string::npos) << head;
  std::size_t length = std::stoul(head.substr(length_at + 16));
  std::string body(asio::buffers_begin(buffer.data()), asio::buffers_end(buffer.data()));
  boost::system::error_code read_ec;
  while (body.size() < length && !read_ec) {
    std::array<char, 4096> chunk;
    std::size_t n = socket.read_some(asio::buffer(chunk), read_ec);
    body.append(chunk.data(), n);
  }
  EXPECT_EQ(body.size(), length);
  rapidjson::Document page = parse(body);
  ASSERT_TRUE(page.IsObject()) << "not one page's JSON: bytes of several, or freed ones";
  EXPECT_EQ(page["items"].Size(), 50u);
  // The request was read before the events (or among the first of them):
  // the page it found, whole and unchanged.
  if (page["version"].GetInt64() == 1) {
    EXPECT_EQ(body, warm.body());
  }
  EXPECT_LE(page["version"].GetInt64(), 5);
}

// The write timeout (--write-timeout-ms) closes a reader that takes
// nothing, prepared answer or not.
TEST_P(HitPathTest, AReaderThatStallsBeyondTheKernelsBuffersIsClosedAtTheWriteTimeout) {
  // A read timeout far beyond the test: a close comes from the write timeout.
  start({"--write-timeout-ms", "300", "--read-timeout-ms", "60000"}, "8192");
  seed(20);
  ASSERT_EQ(get(serve.port, "/v1/rooms/r1/mic-queue").result_int(), 200);
  asio::io_context ctx;
  tcp::socket socket = slow_reader(ctx, serve.port);
  // 64 answers of ~330 KB: more than the kernel buffers on both sides hold.
  constexpr std::size_t kAnswers = 64;
  std::string pipelined;
  for (std::size_t i = 0; i < kAnswers; ++i)
    pipelined += "GET /v1/rooms/r1/mic-queue HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(socket, asio::buffer(pipelined));
  auto stalled = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(1500ms);  // the stall itself: the client takes nothing for 5x the timeout
  // What the kernels held arrives, then the end: the server gave up (a
  // server still sending would keep the connection open, and the read
  // would end at its 10 s receive timeout instead).
  std::size_t received = 0;
  boost::system::error_code ec;
  std::array<char, 65536> chunk;
  while (!ec) received += socket.read_some(asio::buffer(chunk), ec);
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  EXPECT_LT(std::chrono::steady_clock::now() - stalled, 8s)
      << "closed by the read timeout, not the write timeout";
  EXPECT_LT(received, kAnswers * 300'000u) << "all the answers were sent: nothing was cut off";
}

// A client that goes away in the middle of a body (reset, not a polite
// close) costs its connection only: no SIGPIPE for the process, which
// goes on answering.
TEST_P(HitPathTest, AClientGoneMidBodyLeavesTheServerAnswering) {
  start({}, "16384");
  seed(50);
  const std::string target = "/v1/rooms/r1/mic-queue?size=50";
  ASSERT_EQ(get(serve.port, target).result_int(), 200);
  for (int i = 0; i < 5; ++i) {
    asio::io_context ctx;
    tcp::socket socket = slow_reader(ctx, serve.port);
    asio::write(socket, asio::buffer("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::array<char, 4096> chunk;
    socket.read_some(asio::buffer(chunk));                  // the answer has begun
    socket.set_option(asio::socket_base::linger(true, 0));  // close = RST
    socket.close();
  }
  EXPECT_EQ(get(serve.port, "/healthz").result_int(), 200);
  EXPECT_EQ(get(serve.port, target).result_int(), 200);
}

INSTANTIATE_TEST_SUITE_P(Body, HitPathTest, ::testing::Values("0", "1"), [](const auto& info) {
  return std::string(info.param) == "0" ? "FromMemory" : "WithSendfile";
});

}  // namespace
}  // namespace micq::testing
