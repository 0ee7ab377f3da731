#include "micq/http/sealed_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace micq::http {

namespace {
std::atomic<int> live_files{0};
}  // namespace

int SealedFile::live() { return live_files.load(std::memory_order_relaxed); }

std::shared_ptr<const SealedFile> SealedFile::of(std::string_view bytes) { return of({bytes}); }

std::shared_ptr<const SealedFile> SealedFile::of(std::initializer_list<std::string_view> parts) {
  if (live_files.fetch_add(1, std::memory_order_relaxed) >= kMaxLive) {
    live_files.fetch_sub(1, std::memory_order_relaxed);
    return nullptr;
  }
  // From here every way out that makes no file gives its place back.
  auto fail = [](int fd) -> std::shared_ptr<const SealedFile> {
    if (fd >= 0) ::close(fd);
    live_files.fetch_sub(1, std::memory_order_relaxed);
    return nullptr;
  };
  int fd = ::memfd_create("micq-body", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return fail(fd);
  std::size_t size = 0;
  for (std::string_view bytes : parts) {
    std::size_t written = 0;
    while (written < bytes.size()) {
      ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fail(fd);
      written += static_cast<std::size_t>(n);
    }
    size += bytes.size();
  }
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
    return fail(fd);
  return std::shared_ptr<const SealedFile>(new SealedFile(fd, size));
}

SealedFile::~SealedFile() {
  ::close(fd_);
  live_files.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace micq::http
