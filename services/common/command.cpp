#include "micq/service/command.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <thread>

#include "micq/service/flag_checks.h"

namespace micq::service {

std::string env_name(std::string_view flag_name) {
  std::string env = "MICQ_";
  for (char c : flag_name)
    env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return env;
}

boost::system::result<boost::asio::ip::tcp::endpoint, std::string> parse_listen(std::string_view text) {
  using Result = boost::system::result<boost::asio::ip::tcp::endpoint, std::string>;
  auto fail = [&](std::string why) { return Result(boost::system::in_place_error, std::move(why)); };
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return fail("--listen must be address:port, got '" + std::string(text) + "'");
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

void add_server_flags(CLI::App& command, ServerFlags& flags, std::string default_listen) {
  flags.listen = std::move(default_listen);
  flags.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  add_flag(command, "listen", flags.listen, "address:port to listen on (port 0: any free port)")
      ->check(parsed_by(parse_listen));
  add_flag(command, "threads", flags.threads, "worker threads")->check(in_range(1, 256));
  add_flag(command, "read-timeout-ms", flags.read_timeout_ms,
           "a whole request must arrive, and an idle connection may wait, this long")
      ->check(at_least(1));
  add_flag(command, "max-connections", flags.max_connections, "open connections beyond this get 429")
      ->check(at_least(1));
  add_flag(command, "write-timeout-ms", flags.write_timeout_ms,
           "an answer must be taken by the client within this long, or its connection is closed")
      ->check(at_least(1));
}

http::ServerOptions server_options(const ServerFlags& flags) {
  http::ServerOptions options;
  options.listen = *parse_listen(flags.listen);
  options.threads = flags.threads;
  options.read_timeout = std::chrono::milliseconds(flags.read_timeout_ms);
  options.max_connections = static_cast<std::size_t>(flags.max_connections);
  options.write_timeout = std::chrono::milliseconds(flags.write_timeout_ms);
  return options;
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

namespace {

// CLI11's "<flag>: <why>" as one sentence (see parse_failure).
std::string refused_value_reason(std::string_view what) {
  auto colon = what.find(": ");
  if (colon == std::string_view::npos) return std::string(what);
  std::string_view flag = what.substr(0, colon), why = what.substr(colon + 2);
  if (why.starts_with(flag)) return std::string(why);
  if (why.starts_with("must ")) return std::string(flag) + " " + std::string(why);
  return std::string(what);
}

}  // namespace

std::string parse_failure(const CLI::App& app, const CLI::ParseError& error) {
  auto subcommands = app.get_subcommands();
  if (dynamic_cast<const CLI::ValidationError*>(&error) && !subcommands.empty())
    return "micq " + subcommands.front()->get_name() + ": " + refused_value_reason(error.what());
  // One line saying why, not CLI11's multi-line banner.
  return "micq: " + std::string(error.what()) + " (see --help)";
}

int fail_parse(const CLI::App& app, const CLI::ParseError& error) {
  std::fprintf(stderr, "%s\n", parse_failure(app, error).c_str());
  return 2;
}

}  // namespace micq::service
