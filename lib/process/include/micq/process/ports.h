// Loopback ports for the children we start: a child is told where to
// listen (redis-server's --port, micq's --listen 127.0.0.1:<port>), so we
// pick a port the kernel says is free. Another process may take it before
// the child binds it; a caller accepts that (a test fails, a start is
// retried) rather than racing for it.
//
// Example:
//   auto port = process::free_loopback_port();   // or nullopt
//   bool bus_free = process::loopback_port_free(*port + 10000);
//
// Thread safety: free functions, safe from any thread.
#ifndef MICQ_PROCESS_PORTS_H_
#define MICQ_PROCESS_PORTS_H_

#include <cstdint>
#include <optional>

namespace micq::process {

// A port on 127.0.0.1 the kernel handed out a moment ago (bind to port 0),
// or nullopt if it would not (no socket, no ephemeral port left).
std::optional<std::uint16_t> free_loopback_port();

// Whether 127.0.0.1:<port> could be bound now.
bool loopback_port_free(std::uint16_t port);

}  // namespace micq::process

#endif  // MICQ_PROCESS_PORTS_H_
