// The fuzz targets' one assertion: an invariant that does not hold is a
// finding like a crash, so it aborts (libFuzzer then saves the input as a
// crash artifact). Unlike assert() it stays on in every build type.
//
// Example:
//   MICQ_FUZZ_CHECK(page->size <= max_size, "size " + std::to_string(page->size));
#ifndef MICQ_FUZZ_CHECK_H_
#define MICQ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace micq::fuzz {

[[noreturn]] inline void invariant_failed(const char* condition, const char* file, int line,
                                          std::string_view detail) {
  std::fprintf(stderr, "%s:%d: invariant failed: %s\n  %.*s\n", file, line, condition,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

}  // namespace micq::fuzz

#define MICQ_FUZZ_CHECK(condition, detail)                                                      \
  do {                                                                                          \
    if (!(condition)) ::micq::fuzz::invariant_failed(#condition, __FILE__, __LINE__, (detail)); \
  } while (false)

#endif  // MICQ_FUZZ_CHECK_H_
