// Loopback ports: one handed out is free, and one held is not.
#include "micq/process/ports.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace micq::process {
namespace {

// Holds 127.0.0.1:<port> (bound and listening) while alive.
class Held {
 public:
  explicit Held(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
             ::listen(fd_, 1) == 0;
  }
  ~Held() {
    if (fd_ >= 0) ::close(fd_);
  }
  Held(const Held&) = delete;
  Held& operator=(const Held&) = delete;
  bool bound() const { return bound_; }

 private:
  int fd_;
  bool bound_ = false;
};

TEST(Ports, AFreePortCanBeBoundAndIsNotFreeWhileHeld) {
  auto port = free_loopback_port();
  ASSERT_TRUE(port.has_value());
  EXPECT_NE(*port, 0);
  EXPECT_TRUE(loopback_port_free(*port));
  {
    Held held(*port);
    ASSERT_TRUE(held.bound());
    EXPECT_FALSE(loopback_port_free(*port));
  }
  EXPECT_TRUE(loopback_port_free(*port)) << "free again once let go";
}

TEST(Ports, PortZeroIsNotAPortToListenOn) { EXPECT_FALSE(loopback_port_free(0)); }

}  // namespace
}  // namespace micq::process
