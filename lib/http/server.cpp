#include "micq/http/server.h"

#include <spdlog/spdlog.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <csignal>
#include <limits>
#include <thread>
#include <unordered_set>
#include <vector>

#include "connection_deadline.h"
#include "descriptor_reserve.h"
#include "micq/sync/mutex.h"

namespace micq::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

// What ends a prepared head: the blank line, with the Connection line
// before it when the connection closes after this answer.
std::string_view head_end(bool keep_alive) { return keep_alive ? kHeadEnd : "Connection: close\r\n\r\n"; }

// "1 MiB", "64 KiB", or bytes: the body limit as the 413 message says it.
std::string size_text(std::uint64_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1u << 10) && bytes % (1u << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// What shutdown needs to know about one connection. Touched only on the
// connection's strand (the session coroutine and the posted closer).
struct Connection {
  tcp::socket* socket = nullptr;  // null once the session ended
  bool busy = false;              // between a complete request and its response
};

Response internal_error() {
  return error_response(Status::internal_server_error, "internal",
                        "The server failed to handle the request.");
}

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, std::shared_ptr<metrics::Metrics> metrics)
      : options_(options),
        metrics_(std::move(metrics)),
        ioc_(std::max(1, options.threads)),
        acceptor_(ioc_),
        signals_(ioc_, SIGINT, SIGTERM),
        drain_timer_(ioc_) {
    // sendfile(2) has no MSG_NOSIGNAL: a client gone mid-body must be an
    // EPIPE for its connection, not a SIGPIPE for the process.
    ::signal(SIGPIPE, SIG_IGN);
  }

  error_code bind() {
    error_code ec;
    if (acceptor_.is_open()) return ec;  // bound already (a caller that needed the port first)
    acceptor_.open(options_.listen.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(options_.listen, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      error_code ignored;
      acceptor_.close(ignored);
    }
    return ec;
  }

  tcp::endpoint local_endpoint() const {
    error_code ec;
    return acceptor_.local_endpoint(ec);
  }

  asio::io_context& context() { return ioc_; }
  Router& router() { return router_; }

  void run() {
    signals_.async_wait([this](error_code ec, int) {
      if (!ec) begin_shutdown();
    });
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    int threads = std::max(1, options_.threads);
    std::vector<std::thread> workers;
    workers.reserve(static_cast<std::size_t>(threads - 1));
    for (int i = 1; i < threads; ++i) workers.emplace_back([this] { ioc_.run(); });
    ioc_.run();
    for (auto& worker : workers) worker.join();
  }

  void stop() {
    asio::post(ioc_, [this] { begin_shutdown(); });
  }

 private:
  // Runs on the io_context (any thread); guarded by mu_ where shared.
  void begin_shutdown() {
    if (stopping_.exchange(true)) return;
    error_code ignored;
    signals_.cancel(ignored);
    acceptor_.close(ignored);
    std::vector<std::pair<asio::any_io_executor, std::shared_ptr<Connection>>> open;
    {
      sync::MutexLock lock(mu_);
      open.assign(connections_.begin(), connections_.end());
    }
    // Idle connections close now; busy ones finish their request first.
    for (auto& [executor, connection] : open) {
      asio::post(executor, [connection = connection] {
        if (connection->socket && !connection->busy) connection->socket->close();
      });
    }
    drain_timer_.expires_after(options_.drain_timeout);
    drain_timer_.async_wait([this](error_code) {
      std::size_t left;
      {
        sync::MutexLock lock(mu_);
        left = connections_.size();
      }
      if (left) spdlog::warn("shutdown: {} connection(s) still busy after the drain timeout", left);
      ioc_.stop();
    });
    maybe_finish_drain();
  }

  void maybe_finish_drain() {
    sync::MutexLock lock(mu_);
    if (stopping_ && connections_.empty()) {
      asio::post(ioc_, [this] { drain_timer_.cancel(); });
    }
  }

  asio::awaitable<void> accept_loop() {
    while (!stopping_) {
      // A connection needs a strand only when other threads could touch it
      // (the shutdown's closer); on one thread the plain executor is enough
      // and cheaper on every operation.
      asio::any_io_executor connection_executor = options_.threads > 1
                                                      ? asio::any_io_executor(asio::make_strand(ioc_))
                                                      : asio::any_io_executor(ioc_.get_executor());
      auto [ec, socket] = co_await acceptor_.async_accept(connection_executor, use_tuple);
      if (ec) {
        if (stopping_ || ec == asio::error::operation_aborted) break;
        co_await accept_failed(ec, connection_executor);
        continue;
      }
      auto executor = socket.get_executor();
      if (open_connections_.load() >= options_.max_connections) {
        asio::co_spawn(executor, refuse(std::move(socket)), asio::detached);
        continue;
      }
      asio::co_spawn(executor, session(std::move(socket)), asio::detached);
    }
  }

  // Over the connection cap: one 429, then close.
  static asio::awaitable<void> refuse(
      tcp::socket socket, std::string_view why = "The server has too many open connections; retry later.",
      std::chrono::milliseconds write_timeout = std::chrono::seconds(1)) {
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(write_timeout);
    Response response = error_response(Status::too_many_requests, "overloaded", why);
    response.set(beast_http::field::retry_after, "1");
    response.keep_alive(false);
    co_await beast_http::async_write(stream, response, use_tuple);
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  // An accept that failed. Out of descriptors (EMFILE, ENFILE) or kernel
  // memory, accepting again at once would fail again at once: a loop
  // spinning a core and flooding the log while the backlog waits. So: one
  // client of the backlog gets a 429 through the descriptor reserve (the
  // others get theirs on the next rounds), the log says so at most once a
  // second, and accepting pauses for 10 ms (100 ms without the reserve).
  asio::awaitable<void> accept_failed(const error_code& ec,
                                      const asio::any_io_executor& connection_executor) {
    const bool out_of_descriptors = ec == asio::error::no_descriptors ||
                                    ec == boost::system::errc::too_many_files_open_in_system ||
                                    ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
    ++failed_accepts_;
    auto now = std::chrono::steady_clock::now();
    if (now - last_accept_warning_ >= std::chrono::seconds(1)) {
      spdlog::warn("accept failed: {} ({} time(s) since the last warning){}", ec.message(), failed_accepts_,
                   out_of_descriptors ? "; answering 429 and pausing accepts" : "");
      failed_accepts_ = 0;
      last_accept_warning_ = now;
    }
    if (!out_of_descriptors) co_return;
    if (reserve_.release()) {
      auto [again, socket] = co_await acceptor_.async_accept(connection_executor, use_tuple);
      if (!again) {
        // Inline, not spawned: the reserve comes back only once this
        // descriptor is closed.
        co_await refuse(std::move(socket), "The server is out of file descriptors; retry later.",
                        std::chrono::milliseconds(100));
      }
      reserve_.retake();
    }
    accept_pause_.expires_after(std::chrono::milliseconds(reserve_.held() ? 10 : 100));
    auto [paused] = co_await accept_pause_.async_wait(use_tuple);
    (void)paused;
  }

  asio::awaitable<void> session(tcp::socket socket) {
    // Answers are whole writes: Nagle would only hold back their last
    // segment for the client's delayed ACK (40 ms), which a body sent with
    // sendfile(2) in page-sized pieces meets every time.
    error_code nodelay_ec;
    socket.set_option(tcp::no_delay(true), nodelay_ec);
    auto connection = std::make_shared<Connection>();
    connection->socket = &socket;
    auto executor = socket.get_executor();
    ++open_connections_;
    {
      sync::MutexLock lock(mu_);
      connections_.emplace(executor, connection);
    }
    auto deadline = internal::ConnectionDeadline::start(socket);
    co_await serve_connection(socket, *deadline, *connection);
    deadline->stop();
    connection->socket = nullptr;
    error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    --open_connections_;
    {
      sync::MutexLock lock(mu_);
      connections_.erase({executor, connection});
    }
    maybe_finish_drain();
  }

  // One connection's requests, in order. Its socket's reads and writes
  // are bounded by `deadline` (the read and write timeouts); while a
  // handler runs there is none.
  asio::awaitable<void> serve_connection(tcp::socket& socket, internal::ConnectionDeadline& deadline,
                                         Connection& connection) {
    beast::flat_buffer buffer;
    while (!stopping_) {
      beast_http::request_parser<beast_http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options_.header_limit));
      parser.body_limit(options_.body_limit);
      deadline.expires_after(options_.read_timeout);
      auto [read_ec, read_bytes] = co_await beast_http::async_read(socket, buffer, parser, use_tuple);
      if (read_ec) {
        if (read_ec == beast_http::error::body_limit) {
          co_await write_error(socket, deadline, Status::payload_too_large, "payload_too_large",
                               "The request body is larger than " + size_text(options_.body_limit) + ".");
        } else if (read_ec == beast_http::error::header_limit) {
          co_await write_error(socket, deadline, Status::request_header_fields_too_large, "headers_too_large",
                               "The request headers are too large.");
        } else if (read_ec != beast_http::error::end_of_stream && !deadline.expired() &&
                   read_ec != asio::error::operation_aborted && read_ec != asio::error::eof &&
                   read_ec != asio::error::connection_reset && read_ec != asio::error::bad_descriptor &&
                   (read_bytes > 0 || buffer.size() > 0)) {
          // Bytes arrived and the parser refused them (read_bytes counts only
          // what it accepted: 0 for a bad request line).
          co_await write_error(socket, deadline, Status::bad_request, "bad_request",
                               "The request is not valid HTTP/1.1.");
        }
        co_return;
      }
      connection.busy = true;
      deadline.suspend();
      auto started = std::chrono::steady_clock::now();
      Request request = request_of(parser.release());
      Router::Match match = router_.match(request);
      Response response;
      if (match.handler) {
        try {
          response = co_await (*match.handler)(request);
        } catch (const std::exception& e) {
          spdlog::error("handler for {} threw: {}", match.name, e.what());
          response = internal_error();
        }
      } else if (!match.allow.empty()) {
        response = error_response(Status::method_not_allowed, "method_not_allowed",
                                  "This path does not accept that method.");
        response.set(beast_http::field::allow, match.allow);
      } else {
        response = error_response(Status::not_found, "not_found", "No such route.");
      }
      bool keep_alive = request.message.keep_alive() && !stopping_;
      const bool head_only = request.message.method() == Method::head;
      const bool prepared = response.body().prepared_head != nullptr;
      if (!prepared) {
        response.keep_alive(keep_alive);
        if (head_only) response.body() = nullptr;
      }
      // Counted once the response is ready, before it is written: a client
      // that reads /metrics right after its answer then always sees it.
      const auto ready = std::chrono::steady_clock::now();
      double seconds = std::chrono::duration<double>(ready - started).count();
      metrics_->observe_request(match.name, static_cast<unsigned>(response.result_int()), seconds);
      deadline.expires_at(ready + options_.write_timeout);
      error_code write_ec;
      if (prepared && response.body().file && !head_only) {
        auto sending = send_with_file(socket, deadline, response.body(), keep_alive);
        write_ec = co_await std::move(sending);
      } else if (prepared) {
        // The bytes as they are: head, its end, body; one gather write
        // (the response holds them until the kernel has taken them all).
        const SharedBytes& wire = response.body();
        const std::string_view end = head_end(keep_alive);
        std::array<asio::const_buffer, 3> buffers{
            asio::buffer(*wire.prepared_head), asio::buffer(end.data(), end.size()),
            wire.bytes && !head_only ? asio::buffer(*wire.bytes) : asio::const_buffer()};
        // Everything the kernel takes per call: asio's default completion
        // conditions cap a write at 64 KB, four sendmsg calls for a 240 KB
        // page where one does.
        auto whole = [](const error_code& ec, std::size_t) -> std::size_t {
          return ec ? 0 : std::numeric_limits<std::size_t>::max();
        };
        auto [ec, written] = co_await asio::async_write(socket, buffers, whole, use_tuple);
        write_ec = ec;
      } else {
        auto [ec, written] = co_await beast_http::async_write(socket, response, use_tuple);
        write_ec = ec;
      }
      connection.busy = false;
      if (write_ec || !keep_alive) co_return;
    }
  }

  // A prepared answer in a sealed file: kept alive, the whole answer is
  // the file (one sendfile(2) for a hit); else the head with
  // "Connection: close" (MSG_MORE: it leaves with the body's first bytes),
  // then the file past its own head. Non-blocking, waiting for the socket
  // to take more no longer than `deadline` (the write timeout), as every
  // write.
  asio::awaitable<error_code> send_with_file(tcp::socket& socket,
                                             const internal::ConnectionDeadline& deadline,
                                             const SharedBytes& wire, bool keep_alive) {
    error_code ec;
    // Asio makes the descriptor non-blocking at its first asynchronous
    // read; asking again would cost an ioctl per hit.
    if (!socket.native_non_blocking()) socket.native_non_blocking(true, ec);
    if (ec) co_return ec;
    const std::string_view end = keep_alive ? std::string_view() : head_end(false);
    const std::string_view head = keep_alive ? std::string_view() : std::string_view(*wire.prepared_head);
    const std::size_t head_size = head.size() + end.size();
    std::size_t head_sent = 0;
    auto offset = static_cast<off_t>(keep_alive ? 0 : wire.prepared_head->size() + kHeadEnd.size());
    const auto size = static_cast<off_t>(wire.file->size());
    while (head_sent < head_size || offset < size) {
      ssize_t n = 0;
      if (head_sent < head_size) {
        iovec parts[2];
        int count = 0;
        if (head_sent < head.size()) {
          parts[count++] = {const_cast<char*>(head.data()) + head_sent, head.size() - head_sent};
          parts[count++] = {const_cast<char*>(end.data()), end.size()};
        } else {
          std::size_t in_end = head_sent - head.size();
          parts[count++] = {const_cast<char*>(end.data()) + in_end, end.size() - in_end};
        }
        msghdr message{};
        message.msg_iov = parts;
        message.msg_iovlen = static_cast<std::size_t>(count);
        n = ::sendmsg(socket.native_handle(), &message, MSG_MORE | MSG_NOSIGNAL);
        if (n > 0) head_sent += static_cast<std::size_t>(n);
      } else {
        n = ::sendfile(socket.native_handle(), wire.file->fd(), &offset,
                       static_cast<std::size_t>(size - offset));
        if (n == 0) co_return asio::error::eof;  // the file is shorter than it says: never, it is sealed
      }
      if (n > 0) continue;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        co_return error_code(errno, boost::system::system_category());
      // The socket's buffer is full: wait until it takes more, or the
      // deadline cancels the wait.
      auto [wait_ec] = co_await socket.async_wait(tcp::socket::wait_write, use_tuple);
      if (deadline.expired()) co_return beast::error::timeout;
      if (wait_ec) co_return wait_ec;
    }
    co_return error_code();
  }

  // Answers a request that cannot be read to its end, then closes politely.
  asio::awaitable<void> write_error(tcp::socket& socket, internal::ConnectionDeadline& deadline,
                                    Status status, std::string_view code, std::string_view message) {
    Response response = error_response(status, code, message);
    response.keep_alive(false);
    deadline.expires_after(options_.write_timeout);
    metrics_->observe_request("unparsed", static_cast<unsigned>(status), 0);
    auto [ec, written] = co_await beast_http::async_write(socket, response, use_tuple);
    if (!ec) co_await linger(socket, deadline);
  }

  // Closing a socket with unread input makes the kernel send RST, which can
  // destroy the error response before the client reads it. So: stop
  // sending, then read and discard for a short, bounded while (as nginx's
  // lingering close does).
  static asio::awaitable<void> linger(tcp::socket& socket, internal::ConnectionDeadline& deadline) {
    constexpr auto kLingerAtMost = std::chrono::seconds(2);
    constexpr std::size_t kDiscardAtMost = std::size_t{4} * 1024 * 1024;
    constexpr auto kQuietClientIsDone = std::chrono::milliseconds(250);
    error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    const auto give_up = std::chrono::steady_clock::now() + kLingerAtMost;
    std::array<char, 16 * 1024> sink;
    std::size_t discarded = 0;
    while (discarded < kDiscardAtMost && std::chrono::steady_clock::now() < give_up) {
      deadline.expires_after(kQuietClientIsDone);
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(sink), use_tuple);
      if (ec) break;
      discarded += n;
    }
  }

  struct ConnectionKeyHash {
    std::size_t operator()(const std::pair<asio::any_io_executor, std::shared_ptr<Connection>>& key) const {
      return std::hash<Connection*>{}(key.second.get());
    }
  };
  struct ConnectionKeyEq {
    bool operator()(const std::pair<asio::any_io_executor, std::shared_ptr<Connection>>& a,
                    const std::pair<asio::any_io_executor, std::shared_ptr<Connection>>& b) const {
      return a.second == b.second;
    }
  };

  Router router_;  // constant once run() starts
  const ServerOptions options_;
  std::shared_ptr<metrics::Metrics> metrics_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer drain_timer_;
  // The accept loop's alone.
  internal::DescriptorReserve reserve_;
  asio::steady_timer accept_pause_{ioc_};
  std::chrono::steady_clock::time_point last_accept_warning_{};
  std::uint64_t failed_accepts_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> open_connections_{0};
  sync::Mutex mu_;
  std::unordered_set<std::pair<asio::any_io_executor, std::shared_ptr<Connection>>, ConnectionKeyHash,
                     ConnectionKeyEq>
      connections_ MICQ_GUARDED_BY(mu_);
};

Server::Server(ServerOptions options, std::shared_ptr<metrics::Metrics> metrics)
    : impl_(std::make_unique<Impl>(options, std::move(metrics))) {}
Server::~Server() = default;
error_code Server::bind() { return impl_->bind(); }
tcp::endpoint Server::local_endpoint() const { return impl_->local_endpoint(); }
asio::io_context& Server::context() { return impl_->context(); }
Router& Server::router() { return impl_->router(); }
void Server::run() { impl_->run(); }
void Server::stop() { impl_->stop(); }

void add_standard_routes(Router& router, std::shared_ptr<metrics::Metrics> metrics) {
  router.add(Method::get, "/healthz", "healthz", [](Request&) -> asio::awaitable<Response> {
    co_return json_response(Status::ok, std::string(R"({"status":"ok"})"));
  });
  router.add(Method::get, "/metrics", "metrics", [metrics](Request&) -> asio::awaitable<Response> {
    Response response = json_response(Status::ok, metrics->render());
    response.set(beast_http::field::content_type, "text/plain; version=0.0.4");
    co_return response;
  });
}

}  // namespace micq::http
