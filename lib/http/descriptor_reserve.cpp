#include "descriptor_reserve.h"

#include <fcntl.h>
#include <unistd.h>

namespace micq::http::internal {

DescriptorReserve::DescriptorReserve() { retake(); }

DescriptorReserve::~DescriptorReserve() { release(); }

bool DescriptorReserve::release() {
  if (!held()) return false;
  for (int& fd : fds_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  return true;
}

bool DescriptorReserve::retake() {
  for (int& fd : fds_) {
    if (fd < 0) fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  return held();
}

bool DescriptorReserve::held() const {
  for (int fd : fds_)
    if (fd < 0) return false;
  return true;
}

}  // namespace micq::http::internal
