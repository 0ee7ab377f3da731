#include "micq/http/router.h"

#include <gtest/gtest.h>

namespace micq::http {
namespace {

namespace asio = boost::asio;

Handler named(std::string body) {
  return [body](Request&) -> asio::awaitable<Response> { co_return json_response(Status::ok, body); };
}

Request make(Method method, std::string_view path) {
  Request request;
  request.message.method(method);
  request.path = path;
  return request;
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    router.add(Method::get, "/v1/rooms/{room_id}/mic-queue", "mic_queue", named("list"));
    router.add(Method::post, "/v1/rooms/{room_id}/events", "events", named("events"));
    router.add(Method::get, "/healthz", "healthz", named("ok"));
  }
  Router router;
};

TEST_F(RouterTest, MatchesLiteralRoute) {
  auto request = make(Method::get, "/healthz");
  auto match = router.match(request);
  ASSERT_TRUE(match.handler);
  EXPECT_EQ(match.name, "healthz");
}

TEST_F(RouterTest, CapturesParameters) {
  auto request = make(Method::post, "/v1/rooms/r-1.x/events");
  auto match = router.match(request);
  ASSERT_TRUE(match.handler);
  EXPECT_EQ(match.name, "events");
  EXPECT_EQ(request.param("room_id"), "r-1.x");
  EXPECT_EQ(request.param("missing"), "");
}

TEST_F(RouterTest, UnknownPathIsNotFound) {
  auto request = make(Method::get, "/v1/rooms/r1");
  auto match = router.match(request);
  EXPECT_FALSE(match.handler);
  EXPECT_TRUE(match.allow.empty());
}

TEST_F(RouterTest, KnownPathWithOtherMethodListsAllowed) {
  auto request = make(Method::delete_, "/v1/rooms/r1/events");
  auto match = router.match(request);
  EXPECT_FALSE(match.handler);
  EXPECT_EQ(match.allow, "POST");
}

TEST_F(RouterTest, EmptyCaptureDoesNotMatch) {
  auto request = make(Method::get, "/v1/rooms//mic-queue");
  EXPECT_FALSE(router.match(request).handler);
}

TEST_F(RouterTest, TrailingSegmentsDoNotMatch) {
  auto request = make(Method::get, "/healthz/extra");
  EXPECT_FALSE(router.match(request).handler);
}

TEST_F(RouterTest, HeadIsServedByGetRoutes) {
  auto request = make(Method::head, "/healthz");
  EXPECT_TRUE(router.match(request).handler);
}

TEST_F(RouterTest, APathOfMoreSegmentsThanAnyRouteMayHaveMatchesNone) {
  std::string path;
  for (std::size_t i = 0; i < 4 * Router::kMaxSegments; ++i) path += "/healthz";
  auto request = make(Method::get, path);
  auto match = router.match(request);
  EXPECT_FALSE(match.handler);
  EXPECT_TRUE(match.allow.empty()) << "404, not 405";
  Router wide;
  std::string widest;
  for (std::size_t i = 0; i < Router::kMaxSegments; ++i) widest += "/{p" + std::to_string(i) + "}";
  wide.add(Method::get, widest, "widest", named("w"));
  std::string sixteen;
  for (std::size_t i = 0; i < Router::kMaxSegments; ++i) sixteen += "/s" + std::to_string(i);
  auto at_the_bound = make(Method::get, sixteen);
  ASSERT_TRUE(wide.match(at_the_bound).handler) << "kMaxSegments segments still match";
  EXPECT_EQ(at_the_bound.param("p15"), "s15");
  const std::string seventeen = sixteen + "/s16";  // the request's path views it
  auto past = make(Method::get, seventeen);
  EXPECT_FALSE(wide.match(past).handler);
}

TEST(Router, RefusesAPatternOfTooManySegments) {
  Router router;
  std::string pattern;
  for (std::size_t i = 0; i <= Router::kMaxSegments; ++i) pattern += "/x";
  EXPECT_THROW(router.add(Method::get, pattern, "too_long", named("x")), std::invalid_argument);
}

TEST(RequestOf, SplitsPathAndQueryAndTheViewsMoveWithTheRequest) {
  beast_http::request<beast_http::string_body> message;
  message.method(Method::get);
  message.target("/v1/rooms/r1/mic-queue?page=2&size=5");
  Request request = request_of(std::move(message));
  EXPECT_EQ(request.path, "/v1/rooms/r1/mic-queue");
  EXPECT_EQ(request.query, "page=2&size=5");
  Request moved = std::move(request);
  EXPECT_EQ(moved.path, "/v1/rooms/r1/mic-queue");
  EXPECT_EQ(moved.path.data(), moved.message.target().data()) << "a view into the message it holds";
  beast_http::request<beast_http::string_body> bare;
  bare.target("/healthz");
  Request no_query = request_of(std::move(bare));
  EXPECT_EQ(no_query.path, "/healthz");
  EXPECT_TRUE(no_query.query.empty());
}

TEST(ErrorJson, IsTheSpecShapeAndEscapes) {
  EXPECT_EQ(error_json("bad_page", "page must be \"0..999\""),
            R"({"error":{"code":"bad_page","message":"page must be \"0..999\""}})");
}

}  // namespace
}  // namespace micq::http
