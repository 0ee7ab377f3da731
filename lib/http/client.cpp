#include "micq/http/client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/url/parse.hpp>
#include <charconv>

namespace micq::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

boost::system::result<Upstream, std::string> parse_upstream(std::string_view base_url) {
  auto fail = [&](std::string_view why) {
    return boost::system::result<Upstream, std::string>(boost::system::in_place_error,
                                                        std::string(why) + std::string(base_url));
  };
  auto parsed = boost::urls::parse_uri(base_url);
  if (!parsed) return fail("not a URL: ");
  if (parsed->scheme() != "http") return fail("only http:// upstreams are supported: ");
  Upstream upstream;
  upstream.host = std::string(parsed->host());
  if (upstream.host.empty()) return fail("no host in ");
  if (parsed->has_port()) {
    auto port_text = parsed->port();
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return fail("bad port in ");
    }
    upstream.port = static_cast<std::uint16_t>(port);
  }
  return upstream;
}

ClientPool::ClientPool(asio::any_io_executor executor, Upstream upstream, ClientOptions options)
    : executor_(std::move(executor)), upstream_(std::move(upstream)), options_(std::move(options)) {}

ClientPool::~ClientPool() = default;

std::unique_ptr<ClientPool::Connection> ClientPool::take_idle() {
  sync::MutexLock lock(mu_);
  if (idle_.empty()) return nullptr;
  auto connection = std::move(idle_.back());
  idle_.pop_back();
  return connection;
}

void ClientPool::give_back(std::unique_ptr<Connection> connection) {
  sync::MutexLock lock(mu_);
  if (connection && idle_.size() < options_.max_idle) {
    idle_.push_back(std::move(connection));
  } else {
    --open_;  // dropped (closed by its destructor)
  }
}

// The deadline of one attempt. Its handler runs on the caller's executor, so
// it never runs during one of the attempt's steps. It closes the socket:
// that fails the operation pending now and every later one (a composed
// write or a connect over several addresses runs more than one), and leaves
// `expired` for the steps to report. `over` keeps it off a socket that has
// moved on to another request.
struct ClientPool::Deadline {
  explicit Deadline(tcp::socket& s) : socket(&s) {}
  tcp::socket* socket;
  bool expired = false;
  bool over = false;

  static std::shared_ptr<Deadline> arm(Connection& connection, std::chrono::steady_clock::time_point expiry,
                                       const asio::any_io_executor& caller) {
    auto deadline = std::make_shared<Deadline>(connection.socket);
    connection.timer.expires_at(expiry);
    connection.timer.async_wait(asio::bind_executor(caller, [deadline](error_code ec) {
      if (ec || deadline->over) return;
      deadline->expired = true;
      error_code ignored;
      deadline->socket->close(ignored);
    }));
    return deadline;
  }
  // A step that failed because the deadline closed the socket reports a
  // timeout.
  error_code outcome(error_code ec) const { return expired ? error_code(beast::error::timeout) : ec; }
};

namespace {

// The request as bytes, by Beast's serializer (no I/O: the bytes go out in
// one write below).
std::string serialize(beast::http::request<beast::http::string_body>& message) {
  std::string bytes;
  bytes.reserve(256 + message.body().size());  // header + body in one allocation, as a rule
  beast::http::request_serializer<beast::http::string_body> serializer(message);
  serializer.split(false);
  error_code ec;
  while (!ec && !serializer.is_done()) {
    serializer.next(ec, [&](error_code&, const auto& buffers) {
      std::size_t n = 0;
      for (auto buffer : beast::buffers_range_ref(buffers)) {
        bytes.append(static_cast<const char*>(buffer.data()), buffer.size());
        n += buffer.size();
      }
      serializer.consume(n);
    });
  }
  return bytes;
}

// However an attempt ends (an exception included), its deadline leaves the
// socket alone from then on.
template <class Deadline>
class Disarm {
 public:
  explicit Disarm(Deadline& deadline) : deadline_(deadline) {}
  Disarm(const Disarm&) = delete;
  Disarm& operator=(const Disarm&) = delete;
  ~Disarm() { deadline_.over = true; }

 private:
  Deadline& deadline_;
};

// Reads one answer into `parser`, as Beast's http::async_read does, but with
// plain reads on the socket. `got_some` tells whether any byte arrived (a
// stale keep-alive connection fails before any).
template <class Parser, class Deadline>
asio::awaitable<error_code> read_answer(tcp::socket& socket, beast::flat_buffer& buffer, Parser& parser,
                                        const Deadline& deadline, bool& got_some) {
  error_code ec;
  while (!parser.is_done()) {
    if (buffer.size() > 0) {
      buffer.consume(parser.put(buffer.data(), ec));
      if (ec && ec != beast::http::error::need_more) co_return ec;
      ec = {};
      if (parser.is_done()) break;
    }
    if (deadline.expired) co_return deadline.outcome(ec);
    std::size_t room = beast::read_size(buffer, 65536);
    auto [read_ec, n] = co_await socket.async_read_some(buffer.prepare(room), use_tuple);
    buffer.commit(n);
    if (n > 0) got_some = true;
    if (read_ec == asio::error::eof && parser.got_some()) {
      parser.put_eof(ec);  // an answer delimited by the end of the stream
      co_return ec;
    }
    if (read_ec == asio::error::eof) co_return error_code(beast::http::error::end_of_stream);
    if (read_ec) co_return deadline.outcome(read_ec);
  }
  co_return error_code{};
}

}  // namespace

asio::awaitable<error_code> ClientPool::connect(Connection& connection, const Deadline& deadline) {
  error_code ec;
  auto address = asio::ip::make_address(upstream_.host, ec);
  if (!ec) {
    auto [connect_ec] =
        co_await connection.socket.async_connect(tcp::endpoint(address, upstream_.port), use_tuple);
    co_return deadline.outcome(connect_ec);
  }
  // A name lookup (getaddrinfo on Asio's resolver thread) cannot be
  // interrupted: the deadline is checked when it returns. Upstreams are
  // given as addresses in every configuration micq starts itself.
  tcp::resolver resolver(executor_);
  auto [resolve_ec, endpoints] =
      co_await resolver.async_resolve(upstream_.host, std::to_string(upstream_.port), use_tuple);
  if (deadline.expired || resolve_ec) co_return deadline.outcome(resolve_ec);
  auto [connect_ec, endpoint] = co_await asio::async_connect(connection.socket, endpoints, use_tuple);
  co_return deadline.outcome(connect_ec);
}

asio::awaitable<boost::system::result<ClientResponse>> ClientPool::request(
    beast::http::verb method, std::string target, std::string body, std::chrono::milliseconds deadline,
    std::vector<std::pair<std::string, std::string>> headers) {
  const auto expiry = std::chrono::steady_clock::now() + deadline;
  const auto caller = co_await asio::this_coro::executor;
  std::string request_bytes;
  {
    beast::http::request<beast::http::string_body> message{method, target, 11};
    message.set(beast::http::field::host, upstream_.host);
    message.set(beast::http::field::content_type, "application/json");
    for (const auto& [name, value] : options_.headers) message.set(name, value);
    for (const auto& [name, value] : headers) message.set(name, value);
    message.keep_alive(true);
    message.body() = std::move(body);
    message.prepare_payload();
    request_bytes = serialize(message);
  }

  error_code last_error;
  for (int attempt = 0; attempt < 2; ++attempt) {
    // The retry opens a fresh connection: the next idle one may have been
    // closed by the same idle timeout on the upstream (they often expire
    // together), and would fail the same way.
    std::unique_ptr<Connection> connection = attempt == 0 ? take_idle() : nullptr;
    const bool reused = connection != nullptr;
    if (!connection) {
      {
        sync::MutexLock lock(mu_);
        if (open_ >= options_.max_connections)
          co_return boost::system::result<ClientResponse>(
              boost::system::error_code(asio::error::no_buffer_space));
        ++open_;
      }
      connection = std::make_unique<Connection>(executor_);
      // Room for a typical answer up front: Beast otherwise starts small and
      // grows, paying one recvmsg per doubling.
      connection->buffer.reserve(std::size_t{64} * 1024);
    }
    auto timer = Deadline::arm(*connection, expiry, caller);
    const Disarm<Deadline> disarm(*timer);
    error_code ec;
    if (!reused) ec = co_await connect(*connection, *timer);
    beast::http::response_parser<PaddedStringBody> parser;
    parser.body_limit(options_.max_response_bytes);
    parser.eager(true);
    bool got_some = false;
    if (!ec && timer->expired) ec = beast::error::timeout;
    if (!ec) {
      auto [write_ec, written] =
          co_await asio::async_write(connection->socket, asio::buffer(request_bytes), use_tuple);
      ec = timer->outcome(write_ec);
    }
    if (!ec) ec = co_await read_answer(connection->socket, connection->buffer, parser, *timer, got_some);
    connection->timer.cancel();  // `disarm` marks the deadline over before anything can suspend
    if (ec) {
      connection.reset();
      give_back(nullptr);
      last_error = ec;
      // A kept-alive connection the upstream closed while idle fails before
      // any answer arrives: worth one more try on a fresh connection.
      bool stale = reused && !got_some && ec != beast::error::timeout;
      if (stale && std::chrono::steady_clock::now() < expiry) {
        retries_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      co_return boost::system::result<ClientResponse>(ec);
    }
    // The parser knows whether the answer ended by the connection closing
    // (no length given): such a connection is done, whatever its headers say.
    const bool keep_alive = parser.keep_alive();
    ClientResponse response = parser.release();
    // Bytes past the answer would be an answer nobody asked for: not reusable.
    if (keep_alive && connection->buffer.size() == 0) {
      give_back(std::move(connection));
    } else {
      connection.reset();
      give_back(nullptr);
    }
    co_return response;
  }
  co_return boost::system::result<ClientResponse>(last_error);
}

}  // namespace micq::http
