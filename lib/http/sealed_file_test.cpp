#include "micq/http/sealed_file.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace micq::http {
namespace {

TEST(SealedFile, HoldsTheBytesAndCannotBeWrittenOrResized) {
  auto file = SealedFile::of("{\"items\":[]}");
  ASSERT_TRUE(file);
  EXPECT_EQ(file->size(), 12u);
  char back[32] = {};
  EXPECT_EQ(::pread(file->fd(), back, sizeof back, 0), 12);
  EXPECT_EQ(std::string(back), "{\"items\":[]}");
  EXPECT_LT(::pwrite(file->fd(), "x", 1, 0), 0) << "sealed against writes";
  EXPECT_NE(::ftruncate(file->fd(), 1), 0) << "sealed against shrinking";
}

TEST(SealedFile, HoldsItsPartsOneAfterAnother) {
  auto file = SealedFile::of({"HTTP/1.1 200 OK", "\r\n", "", "{}"});
  ASSERT_TRUE(file);
  EXPECT_EQ(file->size(), 19u);
  char back[32] = {};
  EXPECT_EQ(::pread(file->fd(), back, sizeof back, 0), 19);
  EXPECT_EQ(std::string(back), "HTTP/1.1 200 OK\r\n{}");
}

TEST(SealedFile, AtMostMaxLiveExistAtOnceAndTheirPlacesComeBack) {
  // kMaxLive descriptors and some: the soft limit raised if it is lower.
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  const rlim_t needed = SealedFile::kMaxLive + 64;
  if (limit.rlim_cur < needed) {
    if (limit.rlim_max < needed) GTEST_SKIP() << "the descriptor hard limit is below " << needed;
    limit.rlim_cur = needed;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  }
  const int before = SealedFile::live();
  std::vector<std::shared_ptr<const SealedFile>> files;
  for (int i = before; i < SealedFile::kMaxLive; ++i) {
    files.push_back(SealedFile::of("x"));
    ASSERT_TRUE(files.back()) << "file " << i;
  }
  EXPECT_EQ(SealedFile::live(), SealedFile::kMaxLive);
  EXPECT_FALSE(SealedFile::of("one too many")) << "past the bound: sent from memory instead";
  files.pop_back();
  EXPECT_TRUE(SealedFile::of("room again"));
  files.clear();
  EXPECT_EQ(SealedFile::live(), before);
}

}  // namespace
}  // namespace micq::http
