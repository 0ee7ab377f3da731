#include "micq/process/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace micq::process {

namespace {

// Binds a fresh TCP socket to 127.0.0.1:<port> and returns the port it
// got (the kernel's choice when `port` is 0), or nullopt if it cannot.
std::optional<std::uint16_t> bind_loopback(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  socklen_t length = sizeof address;
  bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
               ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!bound) return std::nullopt;
  return ntohs(address.sin_port);
}

}  // namespace

std::optional<std::uint16_t> free_loopback_port() { return bind_loopback(0); }

bool loopback_port_free(std::uint16_t port) { return port != 0 && bind_loopback(port).has_value(); }

}  // namespace micq::process
