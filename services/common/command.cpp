#include "micq/service/command.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <charconv>
#include <cstdio>

namespace micq::service {

std::string env_name(std::string_view flag_name) {
  std::string env = "MICQ_";
  for (char c : flag_name) env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return env;
}

boost::system::result<boost::asio::ip::tcp::endpoint, std::string> parse_listen(std::string_view text) {
  using Result = boost::system::result<boost::asio::ip::tcp::endpoint, std::string>;
  auto fail = [&](std::string why) { return Result(boost::system::in_place_error, std::move(why)); };
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return fail("--listen must be address:port, got '" + std::string(text) + "'");
  std::string_view host = text.substr(0, colon), port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(host), ec);
  if (ec) return fail("--listen has a bad address '" + std::string(host) + "'");
  unsigned port = 0;
  auto [end, perr] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (perr != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return fail("--listen has a bad port '" + std::string(port_text) + "'");
  }
  return boost::asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port));
}

int serve_until_stopped(std::string_view name, http::Server& server) {
  if (auto ec = server.bind()) {
    std::fprintf(stderr, "micq %.*s: cannot listen: %s\n", static_cast<int>(name.size()), name.data(),
                 ec.message().c_str());
    return 1;
  }
  auto endpoint = server.local_endpoint();
  spdlog::info("micq {} listening on {}:{}", name, endpoint.address().to_string(), endpoint.port());
  server.run();
  spdlog::info("micq {} stopped", name);
  return 0;
}

int fail_usage(std::string_view name, std::string_view reason) {
  std::fprintf(stderr, "micq %.*s: %.*s\n", static_cast<int>(name.size()), name.data(),
               static_cast<int>(reason.size()), reason.data());
  return 2;
}

}  // namespace micq::service
