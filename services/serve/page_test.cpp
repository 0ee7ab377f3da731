#include "page.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <thread>

namespace micq::serve {
namespace {

std::string gunzip(const std::string& compressed) {
  z_stream stream{};
  inflateInit2(&stream, 15 + 16);
  std::string out(1 << 20, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  inflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  return out;
}

TEST(Page, EtagIsQuotedAndFollowsTheBody) {
  auto a = etag_of(R"({"a":1})");
  EXPECT_EQ(a.front(), '"');
  EXPECT_EQ(a.back(), '"');
  EXPECT_EQ(a, etag_of(R"({"a":1})"));
  EXPECT_NE(a, etag_of(R"({"a":2})"));
}

TEST(Page, GzipRoundTrips) {
  std::string body(10000, 'x');
  body += "end";
  auto compressed = gzip_of(body);
  EXPECT_LT(compressed.size(), body.size() / 10);
  EXPECT_EQ(gunzip(compressed), body);
}

TEST(Page, IfNoneMatchForms) {
  EXPECT_TRUE(etag_matches("\"abc\"", "\"abc\""));
  EXPECT_TRUE(etag_matches("\"x\", \"abc\"", "\"abc\""));
  EXPECT_TRUE(etag_matches("W/\"abc\"", "\"abc\""));
  EXPECT_TRUE(etag_matches("*", "\"abc\""));
  EXPECT_FALSE(etag_matches("\"abd\"", "\"abc\""));
  EXPECT_FALSE(etag_matches("abc", "\"abc\""));
}

TEST(Page, AcceptEncodingForms) {
  EXPECT_TRUE(accepts_gzip("gzip"));
  EXPECT_TRUE(accepts_gzip("deflate, gzip;q=0.8"));
  EXPECT_TRUE(accepts_gzip("*"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(accepts_gzip("br, deflate"));
  EXPECT_FALSE(accepts_gzip(""));
}

TEST(Page, LazyGzipIsMadeOnceAndSharedByEveryAnswer) {
  std::string body(50'000, 'x');
  LazyGzip variant(1);
  auto first = variant.get(body);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, gzip_of(body, 1));
  EXPECT_EQ(variant.get(body).get(), first.get()) << "kept, not made again";
}

TEST(Page, LazyGzipRacedByTwoThreadsKeepsOneResult) {
  std::string body(200'000, 'y');
  LazyGzip variant(1);
  std::shared_ptr<const std::string> seen[2];
  std::thread a([&] { seen[0] = variant.get(body); });
  std::thread b([&] { seen[1] = variant.get(body); });
  a.join();
  b.join();
  EXPECT_EQ(seen[0].get(), seen[1].get()) << "both answers send the one kept variant";
  EXPECT_EQ(variant.get(body).get(), seen[0].get());
}

}  // namespace
}  // namespace micq::serve
