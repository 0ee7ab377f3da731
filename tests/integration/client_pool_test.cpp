// http::ClientPool against a real server that closes idle keep-alive
// connections: a request that lands on a connection the server closed is
// retried once, on a fresh connection.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "micq/http/client.h"
#include "micq/http/router.h"
#include "process.h"

namespace micq::testing {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

asio::awaitable<int> status_of(http::ClientPool& pool) {
  auto call = pool.request(http::Method::get, "/healthz", "", 2s);
  auto reply = co_await std::move(call);
  co_return reply ? reply->result_int() : -1;
}

asio::awaitable<std::vector<int>> scenario(http::ClientPool& pool) {
  // Three requests at once: three pooled connections.
  auto together = status_of(pool) && status_of(pool) && status_of(pool);
  auto [a, b, c] = co_await std::move(together);
  std::vector<int> statuses;
  statuses.push_back(a);
  statuses.push_back(b);
  statuses.push_back(c);
  // The server's idle timeout is 200 ms: wait well past it (a bound, not a
  // synchronisation: the closing is the server's, unseen by the pool).
  asio::steady_timer idle(co_await asio::this_coro::executor, 1s);
  co_await idle.async_wait(asio::use_awaitable);
  auto after = status_of(pool);
  statuses.push_back(co_await std::move(after));
  co_return statuses;
}

TEST(ClientPoolTest, ARequestOnConnectionsTheServerClosedIsRetriedFresh) {
  auto sim = start_service({"sim", "--kinds", "1", "--read-timeout-ms", "200"});
  asio::io_context ioc;
  http::ClientPool pool(ioc.get_executor(), {"127.0.0.1", static_cast<std::uint16_t>(sim.port)});
  auto result = asio::co_spawn(ioc, scenario(pool), asio::use_future);
  ioc.run();
  auto statuses = result.get();
  ASSERT_EQ(statuses.size(), 4u);
  for (int status : statuses) EXPECT_EQ(status, 200);
  EXPECT_EQ(pool.retries(), 1u);  // the fourth request, on a connection the server had closed
}

}  // namespace
}  // namespace micq::testing
