#include "micq/http/client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
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
    : executor_(std::move(executor)), upstream_(std::move(upstream)), options_(options) {}

ClientPool::~ClientPool() = default;

std::unique_ptr<ClientPool::Connection> ClientPool::take_idle() {
  std::lock_guard lock(mu_);
  if (idle_.empty()) return nullptr;
  auto connection = std::move(idle_.back());
  idle_.pop_back();
  return connection;
}

void ClientPool::give_back(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(mu_);
  if (connection && idle_.size() < options_.max_idle) {
    idle_.push_back(std::move(connection));
  } else {
    --open_;  // dropped (closed by its destructor)
  }
}

asio::awaitable<boost::system::result<ClientResponse>> ClientPool::request(
    beast::http::verb method, std::string target, std::string body, std::chrono::milliseconds deadline,
    std::vector<std::pair<std::string, std::string>> headers) {
  const auto expiry = std::chrono::steady_clock::now() + deadline;
  beast::http::request<beast::http::string_body> message{method, target, 11};
  message.set(beast::http::field::host, upstream_.host);
  message.set(beast::http::field::content_type, "application/json");
  for (const auto& [name, value] : options_.headers) message.set(name, value);
  for (const auto& [name, value] : headers) message.set(name, value);
  message.keep_alive(true);
  message.body() = std::move(body);
  message.prepare_payload();

  error_code last_error;
  for (int attempt = 0; attempt < 2; ++attempt) {
    // The retry opens a fresh connection: the next idle one may have been
    // closed by the same idle timeout on the upstream (they often expire
    // together), and would fail the same way.
    std::unique_ptr<Connection> connection = attempt == 0 ? take_idle() : nullptr;
    bool reused = connection != nullptr;
    if (!connection) {
      {
        std::lock_guard lock(mu_);
        if (open_ >= options_.max_connections)
          co_return boost::system::result<ClientResponse>(
              boost::system::error_code(asio::error::no_buffer_space));
        ++open_;
      }
      connection = std::make_unique<Connection>(executor_);
      // Room for a typical answer up front: Beast otherwise starts small and
      // grows, paying one recvmsg per doubling.
      connection->buffer.reserve(std::size_t{64} * 1024);
      error_code ec;
      auto address = asio::ip::make_address(upstream_.host, ec);
      connection->stream.expires_at(expiry);
      if (!ec) {
        auto [connect_ec] =
            co_await connection->stream.async_connect(tcp::endpoint(address, upstream_.port), use_tuple);
        ec = connect_ec;
      } else {
        tcp::resolver resolver(executor_);
        auto [resolve_ec, endpoints] =
            co_await resolver.async_resolve(upstream_.host, std::to_string(upstream_.port), use_tuple);
        ec = resolve_ec;
        if (!ec) {
          auto [connect_ec, endpoint] = co_await connection->stream.async_connect(endpoints, use_tuple);
          ec = connect_ec;
        }
      }
      if (ec) {
        give_back(nullptr);
        co_return boost::system::result<ClientResponse>(ec);
      }
    }
    connection->stream.expires_at(expiry);
    auto [write_ec, written] = co_await beast::http::async_write(connection->stream, message, use_tuple);
    beast::http::response_parser<PaddedStringBody> parser;
    parser.body_limit(options_.max_response_bytes);
    error_code read_ec = write_ec;
    std::size_t read_bytes = 0;
    if (!write_ec) {
      auto [ec, n] =
          co_await beast::http::async_read(connection->stream, connection->buffer, parser, use_tuple);
      read_ec = ec;
      read_bytes = n;
    }
    if (read_ec) {
      connection.reset();
      give_back(nullptr);
      last_error = read_ec;
      // A kept-alive connection the upstream closed while idle fails before
      // any answer arrives: worth one more try on a fresh connection.
      bool stale = reused && read_bytes == 0 && read_ec != beast::error::timeout;
      if (stale && std::chrono::steady_clock::now() < expiry) continue;
      co_return boost::system::result<ClientResponse>(read_ec);
    }
    ClientResponse response = parser.release();
    // Bytes past the answer would be an answer nobody asked for: not reusable.
    if (response.keep_alive() && connection->buffer.size() == 0) {
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
