// DescriptorReserve: a few file descriptors held back for the day the
// process runs out. A server at its RLIMIT_NOFILE cannot accept, so the kernel's
// backlog fills with clients that wait for nothing; giving the reserve up
// for a moment lets it accept one of them, answer 429 and close, then take
// the reserve back (libuv does the same with one). Three, not one: the
// accepted client takes one, and answering it may need two more (UBSan's
// vptr check probes memory through a pipe; a log sink may open a file).
//
// Internal to micq_http (not in include/). Thread safety: none; the accept
// loop owns it.
#ifndef MICQ_HTTP_DESCRIPTOR_RESERVE_H_
#define MICQ_HTTP_DESCRIPTOR_RESERVE_H_

namespace micq::http::internal {

class DescriptorReserve {
 public:
  DescriptorReserve();  // takes the descriptors (of /dev/null) if it can
  ~DescriptorReserve();
  DescriptorReserve(const DescriptorReserve&) = delete;
  DescriptorReserve& operator=(const DescriptorReserve&) = delete;

  // Frees the descriptors for someone else; false unless all were held.
  bool release();
  // Takes them again; false while the process has not enough to spare.
  bool retake();
  bool held() const;

 private:
  int fds_[3] = {-1, -1, -1};
};

}  // namespace micq::http::internal

#endif  // MICQ_HTTP_DESCRIPTOR_RESERVE_H_
