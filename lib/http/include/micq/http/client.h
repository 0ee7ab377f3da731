// ClientPool: keep-alive HTTP/1.1 connections to one upstream (host:port),
// shared by every coroutine of a process.
//
//  * request() borrows an idle connection (or opens one), sends, reads the
//    answer and returns the connection to the pool if both sides keep it
//    alive; at most `max_idle` idle connections are kept and at most
//    `max_connections` exist at once (beyond: an error at once, not a queue);
//  * one deadline per request covers connect, write and read (one timer per
//    request, not one per socket operation); a host name's lookup cannot be
//    interrupted and is checked against it when it returns;
//  * a pooled connection the upstream closed meanwhile is retried once on a
//    fresh connection;
//  * never blocks a thread: everything is an awaitable.
//
// Example:
//   ClientPool sim(executor, "127.0.0.1", 8090);
//   auto answer = co_await sim.request(Method::post, "/v1/kinds/vip/batch", body,
//                                      std::chrono::milliseconds(200));
//   if (!answer) log(answer.error().message()); else use(answer->body());
//
// Thread safety: request() may be called concurrently from any thread. Each
// call must be awaited from a coroutine whose executor runs one handler at a
// time (a strand, or an io_context run by one thread): the deadline's handler
// runs on that executor, serialized with the request's own steps.
#ifndef MICQ_HTTP_CLIENT_H_
#define MICQ_HTTP_CLIENT_H_

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "micq/http/padded_string_body.h"
#include "micq/sync/mutex.h"

namespace micq::http {

// Answers are read with room for simdjson's padding already reserved.
using ClientResponse = boost::beast::http::response<PaddedStringBody>;

struct ClientOptions {
  std::size_t max_idle = 64;
  std::size_t max_connections = 1024;
  std::uint64_t max_response_bytes = std::uint64_t{64} * 1024 * 1024;
  // Sent with every request (e.g. an Authorization header).
  std::vector<std::pair<std::string, std::string>> headers;
};

// An upstream named by a base URL such as "http://127.0.0.1:8081".
struct Upstream {
  std::string host;
  std::uint16_t port = 80;
};

// Parses "http://host:port" (a trailing '/' allowed). Returns an error
// message naming what is wrong, or the upstream.
boost::system::result<Upstream, std::string> parse_upstream(std::string_view base_url);

class ClientPool {
 public:
  ClientPool(boost::asio::any_io_executor executor, Upstream upstream, ClientOptions options = {});
  ~ClientPool();

  // `headers` are sent with this request only (after the pool's own).
  boost::asio::awaitable<boost::system::result<ClientResponse>> request(
      boost::beast::http::verb method, std::string target, std::string body,
      std::chrono::milliseconds deadline, std::vector<std::pair<std::string, std::string>> headers = {});

  const Upstream& upstream() const { return upstream_; }

  // Requests sent again on a fresh connection because a pooled one failed
  // before any answer (the upstream had closed it). Ever-growing counts
  // mean the upstream's idle timeout is shorter than the pool's reuse.
  std::uint64_t retries() const { return retries_.load(std::memory_order_relaxed); }

 private:
  // A pooled connection keeps its read buffer across requests: allocating
  // 64 KB per request (24 per aggregator batch) was ~5% of the aggregator's
  // CPU in malloc/free.
  //
  // Requests are written and answers read with plain socket operations,
  // Beast's serializer and parser run in place: Beast's composed async
  // write/read (layers of buffer adaptors and handlers per call) and a timer
  // armed per socket operation cost ~9% of the aggregator's CPU per batch.
  struct Connection {
    explicit Connection(const boost::asio::any_io_executor& executor) : socket(executor), timer(executor) {}
    boost::asio::ip::tcp::socket socket;
    boost::asio::steady_timer timer;  // this request's deadline
    boost::beast::flat_buffer buffer;
  };
  struct Deadline;
  boost::asio::awaitable<boost::system::error_code> connect(Connection& connection, const Deadline& deadline);
  std::unique_ptr<Connection> take_idle();
  void give_back(std::unique_ptr<Connection> connection);

  boost::asio::any_io_executor executor_;
  const Upstream upstream_;
  const ClientOptions options_;
  sync::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ MICQ_GUARDED_BY(mu_);
  std::size_t open_ MICQ_GUARDED_BY(mu_) = 0;  // idle + in use
  std::atomic<std::uint64_t> retries_{0};
};

}  // namespace micq::http

#endif  // MICQ_HTTP_CLIENT_H_
