#include "aggregator_command.h"

#include <thread>

#include "aggregator_service.h"
#include "micq/http/server.h"
#include "micq/service/kinds.h"

namespace micq::aggregator {
namespace {

struct Flags {
  std::string listen = "127.0.0.1:8081";
  std::string downstream = "http://127.0.0.1:8090";
  std::string kinds = "24";
  int timeout_ms = 200;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
};

int run(const Flags& flags) {
  auto kinds = service::parse_kinds(flags.kinds);
  if (!kinds) return service::fail_usage("aggregator", kinds.error());
  auto listen = service::parse_listen(flags.listen);
  if (!listen) return service::fail_usage("aggregator", listen.error());
  auto downstream = http::parse_upstream(flags.downstream);
  if (!downstream) return service::fail_usage("aggregator", "--downstream: " + downstream.error());
  if (flags.timeout_ms < 1 || flags.timeout_ms > 60'000) {
    return service::fail_usage("aggregator", "--timeout-ms must be 1..60000");
  }
  if (flags.threads < 1) return service::fail_usage("aggregator", "--threads must be at least 1");

  auto metrics = std::make_shared<metrics::Metrics>();
  http::ServerOptions options;
  options.listen = *listen;
  options.threads = flags.threads;
  http::Server server(options, metrics);
  AggregatorService aggregator(server.context().get_executor(), *downstream, std::move(*kinds),
                               std::chrono::milliseconds(flags.timeout_ms));
  http::add_standard_routes(server.router(), metrics);
  aggregator.add_routes(server.router());
  return service::serve_until_stopped("aggregator", server);
}

}  // namespace

void add_command(CLI::App& app, service::Action& action) {
  auto flags = std::make_shared<Flags>();
  CLI::App* command =
      app.add_subcommand("aggregator", "Fan each privilege batch out to every downstream kind (SPEC §3).");
  service::add_flag(*command, "listen", flags->listen, "address:port to listen on");
  service::add_flag(*command, "downstream", flags->downstream, "base URL serving every kind");
  service::add_flag(*command, "kinds", flags->kinds, "a number N (the first N built-in kinds) or a comma list");
  service::add_flag(*command, "timeout-ms", flags->timeout_ms, "deadline for one downstream call");
  service::add_flag(*command, "threads", flags->threads, "worker threads");
  command->callback([flags, &action] { action = [flags] { return run(*flags); }; });
}

}  // namespace micq::aggregator
