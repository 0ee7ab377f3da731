// Server: the HTTP/1.1 server every micq subcommand runs (Boost.Beast on
// Asio C++20 coroutines, `threads` worker threads on one io_context).
//
//  * keep-alive; pipelined requests are answered in order, one at a time
//    per connection, so a connection never holds more than one request's
//    worth of buffered work;
//  * limits: header size (431), body `body_limit` (413; exactly the limit
//    is accepted), a whole request must arrive within `read_timeout` and a
//    kept-alive connection may idle that long (slowloris), a connection cap
//    (beyond it: 429 and close); garbage gets a 400 and a closed connection;
//  * 404 / 405 (with Allow) from the Router, the SPEC error JSON everywhere,
//    a handler's exception is a 500, never a crash;
//  * graceful shutdown on SIGINT/SIGTERM or stop(): stop accepting, close
//    idle connections, let in-flight requests finish for up to
//    `drain_timeout`, then return from run();
//  * every request counted in Metrics by route name and status, with its
//    latency from the complete request to the ready response (the socket
//    write excluded), recorded before the response is written.
//
// Example:
//   Server server(options, metrics);
//   server.router().add(...);  // handlers may use server.context()
//   if (auto ec = server.bind()) { fail(ec.message()); }
//   log("listening on {}", server.local_endpoint());
//   server.run();  // returns after a signal and the drain
//
// Thread safety: router(), bind() and run() from one thread, before run();
// stop() from any thread; context() is usable from set-up on (to make
// timers and clients).
#ifndef MICQ_HTTP_SERVER_H_
#define MICQ_HTTP_SERVER_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

#include "micq/http/router.h"
#include "micq/metrics/metrics.h"

namespace micq::http {

struct ServerOptions {
  boost::asio::ip::tcp::endpoint listen{boost::asio::ip::make_address("127.0.0.1"), 8080};
  int threads = 1;
  std::size_t max_connections = 10'000;
  std::size_t header_limit = std::size_t{16} * 1024;
  std::uint64_t body_limit = std::uint64_t{1024} * 1024;
  std::chrono::milliseconds read_timeout{10'000};
  std::chrono::milliseconds write_timeout{10'000};
  std::chrono::milliseconds drain_timeout{5'000};
};

class Server {
 public:
  Server(ServerOptions options, std::shared_ptr<metrics::Metrics> metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens and binds the listening socket. An error (address in use, bad
  // address) is returned, never thrown. Once bound, a second call does
  // nothing and succeeds.
  boost::system::error_code bind();

  // The bound address (port resolved when listening on port 0).
  boost::asio::ip::tcp::endpoint local_endpoint() const;

  boost::asio::io_context& context();

  // Routes: add them before run().
  Router& router();

  // Serves until SIGINT/SIGTERM or stop(), then drains. REQUIRES: bind() ok.
  void run();

  // Begins the graceful shutdown. Safe from any thread, more than once.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Adds GET /healthz and GET /metrics.
void add_standard_routes(Router& router, std::shared_ptr<metrics::Metrics> metrics);

}  // namespace micq::http

#endif  // MICQ_HTTP_SERVER_H_
