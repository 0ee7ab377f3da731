// DescriptorReserve: one file descriptor held back for the day the process
// runs out. A server at its RLIMIT_NOFILE cannot accept, so the kernel's
// backlog fills with clients that wait for nothing; giving the reserve up
// for a moment lets it accept one of them, answer 429 and close, then take
// the reserve back (libuv does the same).
//
// Internal to micq_http (not in include/). Thread safety: none; the accept
// loop owns it.
#ifndef MICQ_HTTP_DESCRIPTOR_RESERVE_H_
#define MICQ_HTTP_DESCRIPTOR_RESERVE_H_

namespace micq::http::internal {

class DescriptorReserve {
 public:
  DescriptorReserve();  // takes one descriptor (of /dev/null) if it can
  ~DescriptorReserve();
  DescriptorReserve(const DescriptorReserve&) = delete;
  DescriptorReserve& operator=(const DescriptorReserve&) = delete;

  // Frees the descriptor for someone else; false if none was held.
  bool release();
  // Takes one again; false while the process has none to spare.
  bool retake();
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace micq::http::internal

#endif  // MICQ_HTTP_DESCRIPTOR_RESERVE_H_
