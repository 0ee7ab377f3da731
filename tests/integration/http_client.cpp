#include "http_client.h"

#include <rapidjson/document.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace micq::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

Reply http_request(int port, beast::http::verb method, const std::string& target, const std::string& body,
                   const Headers& headers) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::seconds(30));
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  beast::http::request<beast::http::string_body> request{method, target, 11};
  request.set(beast::http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  request.prepare_payload();
  beast::http::write(stream, request);
  beast::flat_buffer buffer;
  beast::http::response_parser<beast::http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  beast::http::read(stream, buffer, parser);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return parser.release();
}

RawExchange raw_exchange(int port, const std::string& bytes, std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  RawExchange result;
  // The server may answer and close before taking everything (a 413): a
  // failed write is part of what is being tested, not an error here.
  beast::error_code write_ec;
  asio::write(socket, asio::buffer(bytes), write_ec);
  asio::steady_timer timer(ioc, timeout);
  std::array<char, 4096> chunk;
  std::function<void()> read_more = [&] {
    socket.async_read_some(asio::buffer(chunk), [&](beast::error_code ec, std::size_t n) {
      result.received.append(chunk.data(), n);
      if (ec) {
        result.closed_by_server = ec == asio::error::eof || ec == asio::error::connection_reset;
        timer.cancel();
        return;
      }
      read_more();
    });
  };
  read_more();
  timer.async_wait([&](beast::error_code ec) {
    if (!ec) socket.cancel();
  });
  ioc.run();
  return result;
}

rapidjson::Document parse(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  return doc;
}

std::string base_url(int port) { return "http://127.0.0.1:" + std::to_string(port); }

std::string error_code_of(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("error") || !doc["error"].IsObject())
    return "";
  const auto& error = doc["error"];
  if (!error.HasMember("code") || !error["code"].IsString() || !error.HasMember("message") ||
      !error["message"].IsString() || error.MemberCount() != 2 || doc.MemberCount() != 1) {
    return "";
  }
  return error["code"].GetString();
}

double metric_value(int port, const std::string& series) {
  std::string text = get(port, "/metrics").body();
  std::string needle = "\n" + series + " ";
  auto at = text.find(needle);
  if (at == std::string::npos) return -1;
  return std::strtod(text.c_str() + at + needle.size(), nullptr);
}

}  // namespace micq::testing
