#include "sim_command.h"

#include <thread>

#include "micq/http/server.h"
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
  auto kinds = service::parse_kinds(flags.kinds);
  if (!kinds) return service::fail_usage("sim", kinds.error());
  auto options = service::server_options(flags.server);
  if (!options) return service::fail_usage("sim", options.error());
  if (std::string why = validate(flags.config); !why.empty()) return service::fail_usage("sim", why);

  auto metrics = std::make_shared<metrics::Metrics>();
  http::Server server(*options, metrics);
  SimService sim(std::move(*kinds), flags.config);
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
                    "a number N (the first N built-in kinds) or a comma list");
  service::add_flag(*command, "payload-bytes", flags->config.payload_bytes,
                    "approximate JSON size of one record");
  service::add_flag(*command, "latency-ms", flags->config.latency_ms, "median added latency per request");
  service::add_flag(*command, "jitter-ms", flags->config.jitter_ms, "spread of the long-tailed latency");
  service::add_flag(*command, "error-rate", flags->config.error_rate, "fraction of requests answered 500");
  service::add_flag(*command, "timeout-rate", flags->config.timeout_rate,
                    "fraction of requests not answered within 10 s");
  command->callback([flags, &action] { action = [flags] { return run(*flags); }; });
}

}  // namespace micq::sim
