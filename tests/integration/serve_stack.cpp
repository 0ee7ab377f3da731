#include "serve_stack.h"

#include <algorithm>

#include "http_client.h"
#include "micq/stack/commands.h"

namespace micq::testing {

ServeStack start_serve_stack(int redis_port, const std::string& strategy,
                             std::vector<std::string> serve_flags, const std::string& sim_latency_ms) {
  ServeStack stack;
  stack.sim = start_service({"sim", "--kinds", "4", "--latency-ms", sim_latency_ms, "--jitter-ms", "0"});
  stack.aggregator = start_service(
      {"aggregator", "--downstream", base_url(stack.sim.port), "--kinds", "4", "--timeout-ms", "2000"});
  if (std::find(serve_flags.begin(), serve_flags.end(), "--upstream-timeout-ms") == serve_flags.end()) {
    serve_flags.insert(serve_flags.end(), {"--upstream-timeout-ms", "3000"});
  }
  serve_flags.insert(serve_flags.begin(), {"--strategy", strategy});
  stack.serve = start_service(stack::serve_command({.redis = "127.0.0.1:" + std::to_string(redis_port),
                                                    .aggregator_port = stack.aggregator.port,
                                                    .events_token = "s3cret"},
                                                   serve_flags));
  return stack;
}

std::string gifts_body(int users) {
  std::string body = R"({"events":[)";
  for (int i = 0; i < users; ++i) {
    if (i) body += ",";
    body += R"({"type":"gift","uid":"u)" + std::to_string(i) + R"(","value":)" + std::to_string(10 + i) + "}";
  }
  return body + "]}";
}

}  // namespace micq::testing
