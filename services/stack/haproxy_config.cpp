#include "micq/stack/haproxy_config.h"

#include <sys/resource.h>

#include <algorithm>

namespace micq::stack {

// Why each line is there is said in the config itself (operators read it
// there, and docs/fleet.md shows it).
std::string haproxy_config(const std::string& listen, const std::vector<int>& backend_ports,
                           int max_connections) {
  const std::string maxconn = std::to_string(max_connections);
  std::string config = R"(# micq: serve instances behind haproxy (docs/fleet.md)
global
    # 10,000 viewers, each a keep-alive connection, plus the connections
    # to the instances; haproxy raises its descriptor limit to fit (micq
    # asks for less when the hard limit cannot hold two per connection).
    maxconn )" + maxconn +
                       R"(

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    # serve answers within --upstream-timeout-ms plus a rebuild, or sheds
    # with 429/503: a list request slower than this is an instance in trouble.
    timeout server 5s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout queue 2s
    timeout check 1s
    maxconn )" + maxconn +
                       R"(

frontend micq
    bind )" + listen + R"(
    default_backend serve

backend serve
    balance roundrobin
    # Every request stands alone (no per-connection state in serve), so an
    # idle connection to an instance may carry any client's next request.
    http-reuse always
    # An instance that stops answering /healthz (dead, or wedged) leaves the
    # rotation after two failed checks, 1 s; one good check brings it back.
    option httpchk GET /healthz
    http-check expect status 200
    default-server check inter 500ms fall 2 rise 1
    # A request that provably did not run (refused, closed unanswered) goes
    # to another instance; so does a read that timed out.
    retry-on conn-failure empty-response response-timeout
    retries 2
    option redispatch
    # Event writes are retried only when the connection failed (they never
    # reached serve): a sent POST may have been applied, and its client
    # retries with its Idempotency-Key instead.
    http-request disable-l7-retry if !METH_GET !METH_HEAD
)";
  for (std::size_t i = 0; i < backend_ports.size(); ++i) {
    config +=
        "    server serve" + std::to_string(i) + " 127.0.0.1:" + std::to_string(backend_ports[i]) + "\n";
  }
  return config;
}

int haproxy_max_connections() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_max == RLIM_INFINITY) return kHaproxyMaxConnections;
  // Two a connection, and a margin for listeners, checks and logs.
  long fits = (static_cast<long>(limit.rlim_max) - 200) / 2;
  return static_cast<int>(std::clamp<long>(fits, 100, kHaproxyMaxConnections));
}

}  // namespace micq::stack
