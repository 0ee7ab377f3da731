// Response shaping (SPEC §2) and the prepared hit path: a kept page's
// answers go out as a head serialized once plus shared bytes, and those
// bytes are exactly what Beast writes for the same answer built field by
// field — identity, gzip, 304, keep-alive or close, HEAD.
#include "response.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/beast/http/write.hpp>
#include <sstream>
#include <string>

#include "page_builder.h"

namespace micq::serve {
namespace {

namespace field = boost::beast::http;
using http::Status;

// What the server writes for `response` (server.cpp's two paths).
std::string on_the_wire(http::Response response, bool keep_alive, bool head_only) {
  const auto& wire = response.body();
  if (wire.prepared_head) {
    std::string out = *wire.prepared_head;
    out += keep_alive ? "\r\n" : "Connection: close\r\n\r\n";
    if (wire.bytes && !head_only) out += *wire.bytes;
    return out;
  }
  response.keep_alive(keep_alive);
  if (head_only) response.body() = nullptr;
  std::ostringstream out;
  out << response;
  return std::move(out).str();
}

http::Request request_with(std::vector<std::pair<field::field, std::string>> headers) {
  http::Request request;
  request.message.method(field::verb::get);
  request.message.target("/v1/rooms/r1/mic-queue");
  for (auto& [name, value] : headers) request.message.set(name, value);
  return request;
}

Page kept_page() {
  BuildOptions options;
  options.kept = true;
  options.gzip_level = 1;
  return finish_page(
      R"({"room_id":"r1","version":7,"total":0,"page":0,"size":10,"items":[],"degraded_kinds":[]})", 7,
      options);
}

// The same page without prepared heads: every answer built field by field.
Page unprepared(const Page& page) {
  Page copy = page;
  copy.heads = nullptr;
  return copy;
}

const ResponseOptions kOptions{"max-age=1", 1, "127.0.0.1:8080"};

struct Case {
  const char* name;
  std::vector<std::pair<field::field, std::string>> headers;
  bool keep_alive;
  bool head_only;
};

TEST(PreparedResponse, IsByteForByteWhatBeastWritesForEveryKindOfAnswer) {
  const Page page = kept_page();
  const Page plain = unprepared(page);
  const std::vector<Case> cases = {
      {"identity", {}, true, false},
      {"identity, closing", {}, false, false},
      {"gzip", {{field::field::accept_encoding, "gzip, br"}}, true, false},
      {"gzip, closing", {{field::field::accept_encoding, "gzip"}}, false, false},
      {"304", {{field::field::if_none_match, page.etag}}, true, false},
      {"304, closing", {{field::field::if_none_match, page.etag}}, false, false},
      {"HEAD", {}, true, true},
      {"HEAD, gzip", {{field::field::accept_encoding, "gzip"}}, true, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    http::Request request = request_with(c.headers);
    http::Response prepared = page_response(page, request, false, {}, kOptions);
    ASSERT_TRUE(prepared.body().prepared_head) << "a fresh answer of a kept page is prepared";
    http::Response built = page_response(plain, request, false, {}, kOptions);
    ASSERT_FALSE(built.body().prepared_head);
    EXPECT_EQ(prepared.result(), built.result());
    EXPECT_EQ(on_the_wire(prepared, c.keep_alive, c.head_only),
              on_the_wire(built, c.keep_alive, c.head_only));
  }
}

TEST(PreparedResponse, EachKindOfHeadIsSerializedOnceForThePage) {
  const Page page = kept_page();
  http::Request identity = request_with({});
  http::Request gzip = request_with({{field::field::accept_encoding, "gzip"}});
  auto first = page_response(page, identity, false, {}, kOptions);
  auto second = page_response(page, identity, false, {}, kOptions);
  EXPECT_EQ(first.body().prepared_head.get(), second.body().prepared_head.get())
      << "the same bytes, not a copy";
  EXPECT_EQ(first.body().bytes.get(), page.body.get()) << "the body itself, not a copy";
  auto zipped = page_response(page, gzip, false, {}, kOptions);
  auto zipped_again = page_response(page, gzip, false, {}, kOptions);
  EXPECT_NE(zipped.body().prepared_head.get(), first.body().prepared_head.get());
  EXPECT_EQ(zipped.body().prepared_head.get(), zipped_again.body().prepared_head.get());
  EXPECT_EQ(zipped.body().bytes.get(), zipped_again.body().bytes.get()) << "gzip made once";
}

// What a sealed file holds, read back.
std::string contents(const http::SealedFile& file) {
  std::string bytes(file.size(), '\0');
  EXPECT_EQ(::pread(file.fd(), bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  return bytes;
}

TEST(PreparedResponse, ASealedPagesFileIsTheWholeKeepAliveIdentityAnswer) {
  BuildOptions options;
  options.kept = true;
  options.gzip_level = 1;
  options.sendfile_min_bytes = 1;
  const Page page =
      finish_page(R"({"room_id":"r1","version":7,"total":0,"page":0,"size":10,"items":[]})", 7, options);
  const Page plain = unprepared(page);
  http::Response identity = page_response(page, request_with({}), false, {}, kOptions);
  ASSERT_TRUE(identity.body().file);
  EXPECT_EQ(contents(*identity.body().file),
            on_the_wire(page_response(plain, request_with({}), false, {}, kOptions), true, false))
      << "one sendfile of it is the keep-alive answer, byte for byte";
  EXPECT_EQ(
      contents(*identity.body().file).substr(identity.body().prepared_head->size() + http::kHeadEnd.size()),
      *page.body)
      << "past its head, the body: what a closing answer sends after its own head";
  EXPECT_EQ(page_response(page, request_with({}), false, {}, kOptions).body().file, identity.body().file)
      << "sealed once for the page";
  EXPECT_FALSE(
      page_response(page, request_with({{field::field::accept_encoding, "gzip"}}), false, {}, kOptions)
          .body()
          .file);
  EXPECT_FALSE(
      page_response(page, request_with({{field::field::if_none_match, page.etag}}), false, {}, kOptions)
          .body()
          .file);
}

TEST(PreparedResponse, AStaleAnswerIsBuiltWithItsWarningAndAge) {
  const Page page = kept_page();
  http::Response stale = page_response(page, request_with({}), true, std::chrono::seconds(7), kOptions);
  EXPECT_FALSE(stale.body().prepared_head) << "Warning and Age vary: not a prepared head";
  EXPECT_EQ(stale[field::field::warning], "110 - \"stale\"");
  EXPECT_EQ(stale[field::field::age], "7");
}

TEST(PreparedResponse, APageNobodyKeepsIsBuiltPerAnswer) {
  BuildOptions options;  // not kept: --strategy direct or singleflight
  Page page = finish_page("{}", 1, options);
  EXPECT_FALSE(page.heads);
  EXPECT_FALSE(page_response(page, request_with({}), false, {}, kOptions).body().prepared_head);
}

}  // namespace
}  // namespace micq::serve
