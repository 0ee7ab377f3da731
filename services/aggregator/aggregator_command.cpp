#include "aggregator_command.h"

#include <thread>

#include "aggregator_service.h"
#include "micq/http/server.h"
#include "micq/service/flag_checks.h"
#include "micq/service/kinds.h"

namespace micq::aggregator {
namespace {

struct Flags {
  service::ServerFlags server;
  std::string downstream = "http://127.0.0.1:8090";
  std::string kinds = "24";
  int timeout_ms = 200;
};

int run(const Flags& flags) {
  // Each parse below succeeds: the flag's check at its definition made it.
  auto kinds = *service::parse_kinds(flags.kinds);
  auto options = service::server_options(flags.server);
  auto downstream = *http::parse_upstream(flags.downstream);

  auto metrics = std::make_shared<metrics::Metrics>();
  http::Server server(options, metrics);
  AggregatorService aggregator(server.context().get_executor(), downstream, std::move(kinds),
                               std::chrono::milliseconds(flags.timeout_ms), metrics->registry());
  http::add_standard_routes(server.router(), metrics);
  aggregator.add_routes(server.router());
  return service::serve_until_stopped("aggregator", server);
}

}  // namespace

void add_command(CLI::App& app, service::Action& action) {
  auto flags = std::make_shared<Flags>();
  CLI::App* command =
      app.add_subcommand("aggregator", "Fan each privilege batch out to every downstream kind (SPEC §3).");
  service::add_server_flags(*command, flags->server, "127.0.0.1:8081");
  service::add_flag(*command, "downstream", flags->downstream, "base URL serving every kind")
      ->check(service::parsed_by(http::parse_upstream));
  service::add_flag(*command, "kinds", flags->kinds,
                    "a number N (the first N built-in kinds) or a comma list")
      ->check(service::parsed_by(service::parse_kinds));
  service::add_flag(*command, "timeout-ms", flags->timeout_ms, "deadline for one downstream call")
      ->check(service::in_range(1, 60'000));
  command->callback([flags, &action] { action = [flags] { return run(*flags); }; });
}

}  // namespace micq::aggregator
