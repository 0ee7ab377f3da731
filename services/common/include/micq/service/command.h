// What every micq subcommand shares: flags that also read MICQ_<NAME> from
// the environment (SPEC §1; flags win), the listen address, and the run of
// a server from "listening" to a clean exit.
#ifndef MICQ_SERVICE_COMMAND_H_
#define MICQ_SERVICE_COMMAND_H_

#include <CLI/CLI.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/result.hpp>
#include <functional>
#include <string>
#include <string_view>

#include "micq/http/server.h"

namespace micq::service {

// "MICQ_" + upper-case name with '-' as '_': "max-stale-ms" -> "MICQ_MAX_STALE_MS".
std::string env_name(std::string_view flag_name);

// Adds `--<name>` bound to `value`, reading MICQ_<NAME> when the flag is absent.
template <class T>
CLI::Option* add_flag(CLI::App& command, const std::string& name, T& value, const std::string& help) {
  return command.add_option("--" + name, value, help)->capture_default_str()->envname(env_name(name));
}

// "127.0.0.1:8080" -> endpoint. Port 0 asks the kernel for a free port.
boost::system::result<boost::asio::ip::tcp::endpoint, std::string> parse_listen(std::string_view text);

// The flags of every long-running subcommand's HTTP server.
struct ServerFlags {
  std::string listen;
  int threads = 0;  // 0: one per core
  int read_timeout_ms = 10'000;
  int max_connections = 10'000;
  int write_timeout_ms = 10'000;
};

// Adds --listen (default `default_listen`), --threads, --read-timeout-ms,
// --max-connections, --write-timeout-ms, each checked at its definition.
void add_server_flags(CLI::App& command, ServerFlags& flags, std::string default_listen);

// The server options of `flags`.
// REQUIRES: `flags` as add_server_flags checked them (a parsed command line).
http::ServerOptions server_options(const ServerFlags& flags);

// The subcommand to run once flags are parsed; returns the exit code.
using Action = std::function<int()>;

// Binds `server`, logs one line "micq <name> listening on <address>" (the
// port resolved), serves until SIGINT/SIGTERM and drains. Returns 0, or 1
// with a one-line reason on stderr if the address cannot be bound.
int serve_until_stopped(std::string_view name, http::Server& server);

// One line on stderr ("micq <name>: <reason>") and exit code 2.
int fail_usage(std::string_view name, std::string_view reason);

// The one line (SPEC §1) for a command line CLI11 refused, without its
// newline. A value a flag's check refused (CLI11: "<flag>: <why>") reads
// like fail_usage's lines, naming the subcommand: a reason that reads after
// the flag's name ("must be 1..60000") or names the flag itself ("--listen
// has a bad port '8o'") is joined to it, any other keeps the colon
// ("micq serve: --redis: bad port in x"). Anything else is CLI11's reason:
// "micq: The following arguments were not expected: --bogus (see --help)".
std::string parse_failure(const CLI::App& app, const CLI::ParseError& error);

// parse_failure's line on stderr, and exit code 2.
int fail_parse(const CLI::App& app, const CLI::ParseError& error);

}  // namespace micq::service

#endif  // MICQ_SERVICE_COMMAND_H_
