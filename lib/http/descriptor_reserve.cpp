#include "descriptor_reserve.h"

#include <fcntl.h>
#include <unistd.h>

namespace micq::http::internal {

DescriptorReserve::DescriptorReserve() { retake(); }

DescriptorReserve::~DescriptorReserve() { release(); }

bool DescriptorReserve::release() {
  if (fd_ < 0) return false;
  ::close(fd_);
  fd_ = -1;
  return true;
}

bool DescriptorReserve::retake() {
  if (fd_ < 0) fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  return fd_ >= 0;
}

}  // namespace micq::http::internal
