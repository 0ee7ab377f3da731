#include "sim_command.h"

#include <thread>

#include "micq/http/server.h"
#include "micq/service/flag_checks.h"
#include "micq/service/kinds.h"
#include "sim_service.h"

namespace micq::sim {
namespace {

struct Flags {
  service::ServerFlags server;
  std::string kinds = "24";
  SimConfig config;
};

int run(const Flags& flags) {
  // Each parse below succeeds: the flag's check at its definition made it.
  auto kinds = *service::parse_kinds(flags.kinds);
  auto options = service::server_options(flags.server);

  auto metrics = std::make_shared<metrics::Metrics>();
  http::Server server(options, metrics);
  SimService sim(std::move(kinds), flags.config);
  http::add_standard_routes(server.router(), metrics);
  sim.add_routes(server.router());
  return service::serve_until_stopped("sim", server);
}

}  // namespace

void add_command(CLI::App& app, service::Action& action) {
  auto flags = std::make_shared<Flags>();
  CLI::App* command = app.add_subcommand("sim", "Simulate the downstream privilege services (SPEC §4).");
  service::add_server_flags(*command, flags->server, "127.0.0.1:8090");
  service::add_flag(*command, "kinds", flags->kinds,
                    "a number N (the first N built-in kinds) or a comma list")
      ->check(service::parsed_by(service::parse_kinds));
  // The bounds POST /admin/config keeps too (sim_config.h).
  service::add_flag(*command, "payload-bytes", flags->config.payload_bytes,
                    "approximate JSON size of one record")
      ->check(service::in_range(std::uint64_t{1}, kMaxPayloadBytes));
  service::add_flag(*command, "latency-ms", flags->config.latency_ms, "median added latency per request")
      ->check(service::in_range(0.0, kMaxLatencyMs));
  service::add_flag(*command, "jitter-ms", flags->config.jitter_ms, "spread of the long-tailed latency")
      ->check(service::in_range(0.0, kMaxLatencyMs));
  service::add_flag(*command, "error-rate", flags->config.error_rate, "fraction of requests answered 500")
      ->check(service::in_range(0.0, 1.0));
  service::add_flag(*command, "timeout-rate", flags->config.timeout_rate,
                    "fraction of requests not answered within 10 s")
      ->check(service::in_range(0.0, 1.0));
  command->callback([flags, &action] { action = [flags] { return run(*flags); }; });
}

}  // namespace micq::sim
