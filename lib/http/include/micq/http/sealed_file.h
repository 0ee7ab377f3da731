// SealedFile: bytes in a sealed memfd, so that a socket can be sent them
// with sendfile(2): the kernel hands the file's pages to TCP instead of
// copying the bytes from user memory for every answer (what nginx's
// `sendfile on` does for a static file). Sealed (no write, no resize) so
// what is in flight can never change; a new body is a new file.
//
// The descriptor is closed when the last holder lets go: a response being
// sent holds it (and the kernel holds the pages it queued on its own).
// Bounded: at most kMaxLive files exist at once in the process, so cached
// pages cannot take the descriptors that connections need; past it, of()
// answers null and the body is sent from memory.
//
// Thread safety: immutable after of(); any number of threads may send it.
#ifndef MICQ_HTTP_SEALED_FILE_H_
#define MICQ_HTTP_SEALED_FILE_H_

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string_view>

namespace micq::http {

class SealedFile {
 public:
  static constexpr int kMaxLive = 1024;

  // `bytes` in a new sealed memfd, or null if the kernel refuses (no
  // memfd, out of descriptors or memory): the caller sends from memory.
  static std::shared_ptr<const SealedFile> of(std::string_view bytes);
  // The parts one after another in one file (a response's head and body).
  static std::shared_ptr<const SealedFile> of(std::initializer_list<std::string_view> parts);

  ~SealedFile();
  SealedFile(const SealedFile&) = delete;
  SealedFile& operator=(const SealedFile&) = delete;

  int fd() const { return fd_; }
  std::size_t size() const { return size_; }

  // Files alive now (for tests and /metrics).
  static int live();

 private:
  SealedFile(int fd, std::size_t size) : fd_(fd), size_(size) {}
  const int fd_;
  const std::size_t size_;
};

}  // namespace micq::http

#endif  // MICQ_HTTP_SEALED_FILE_H_
