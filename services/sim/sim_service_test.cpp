// SimService's handlers called through its router, without a server: the
// bound on remembered (bumped) users.
#include "sim_service.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <string>

namespace micq::sim {
namespace {

namespace asio = boost::asio;

// Sends `method target` with `body` through the service's routes.
int status_of(SimService& service, http::Method method, const std::string& target, std::string body = "") {
  http::Router router;
  service.add_routes(router);
  http::Request request;
  request.message.method(method);
  request.message.target(target);
  request.message.body() = std::move(body);
  request.path = std::string_view(request.message.target().data(), request.message.target().size());
  auto match = router.match(request);
  if (!match.handler) return 0;
  asio::io_context ioc;
  auto answer = asio::co_spawn(ioc, (*match.handler)(request), asio::use_future);
  ioc.run();
  return answer.get().result_int();
}

TEST(SimService, RemembersAtMostTheBoundOfBumpedUsers) {
  SimConfig config;
  config.latency_ms = 0;
  SimService service({"vip"}, config, 3);
  for (const char* uid : {"u1", "u2", "u3"}) {
    EXPECT_EQ(status_of(service, http::Method::post, std::string("/admin/users/") + uid + "/bump"), 200);
  }
  // A fourth user is refused; the three known ones still bump.
  EXPECT_EQ(status_of(service, http::Method::post, "/admin/users/u4/bump"), 507);
  EXPECT_EQ(status_of(service, http::Method::post, "/admin/users/u2/bump"), 200);
  // Records still answer for everyone (u4 at gen 0).
  EXPECT_EQ(status_of(service, http::Method::post, "/v1/kinds/vip/batch", R"({"uids":["u2","u4"]})"), 200);
}

}  // namespace
}  // namespace micq::sim
