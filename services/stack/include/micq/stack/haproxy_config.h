// The haproxy configuration micq puts in front of a fleet of serve
// instances (`micq up --instances N`, `micq bench --scenario fleet`), as
// text: docs/fleet.md shows it verbatim, so what the docs say is what runs.
//
// Round robin over the instances, each health-checked on GET /healthz;
// requests that provably did not run (connection refused, the peer closed
// without answering) are retried on another instance, reads also after a
// response timeout; writes (event POSTs) never are once sent.
//
// Example:
//   std::string text = haproxy_config("127.0.0.1:8080", {40001, 40002},
//                                     haproxy_max_connections());
//
// Thread safety: a pure function.
#ifndef MICQ_STACK_HAPROXY_CONFIG_H_
#define MICQ_STACK_HAPROXY_CONFIG_H_

#include <string>
#include <vector>

namespace micq::stack {

inline constexpr int kHaproxyMaxConnections = 20'000;

// haproxy.cfg listening on `listen` ("address:port") for serve instances
// on 127.0.0.1:<each of backend_ports>, holding at most `max_connections`
// client connections.
std::string haproxy_config(const std::string& listen, const std::vector<int>& backend_ports,
                           int max_connections = kHaproxyMaxConnections);

// kHaproxyMaxConnections (10,000 viewers' keep-alive connections and what
// haproxy opens to the instances), or less if this process's descriptor
// hard limit cannot hold it: haproxy needs two descriptors a connection
// and refuses to start when it cannot raise its limit that far.
int haproxy_max_connections();

}  // namespace micq::stack

#endif  // MICQ_STACK_HAPROXY_CONFIG_H_
