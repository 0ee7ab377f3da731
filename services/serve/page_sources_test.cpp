// The page sources over a fake PageBuilder on an io_context run by the test:
// how each strategy hands a build's outcome, success or ApiError, to the
// callers that asked for the page at once.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "micq/coalesce/testing/gate.h"
#include "page_builder.h"
#include "page_source.h"

namespace micq::serve {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using coalesce::testing::Gate;

// Builds wait on `gate`, then return `failure` if set, else a page whose
// body names the build.
class FakeBuilder final : public PageBuilder {
 public:
  explicit FakeBuilder(Gate& gate) : gate_(gate) {}
  std::optional<ApiError> failure;
  int builds = 0;

  asio::awaitable<ApiResult<Page>> build(PageKey key, RecordNeed) override {
    int number = ++builds;
    co_await gate_.wait();
    if (failure) co_return *failure;
    co_return finish_page(key.room_id + "#" + std::to_string(number), number, BuildOptions{});
  }

 private:
  Gate& gate_;
};

class PageSourcesTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<PageSource> make_source() {
    const std::string& strategy = GetParam();
    if (strategy == "singleflight") return make_singleflight_source(builder);
    CachedSourceOptions options;
    options.executor = ctx.get_executor();
    return make_cached_source(builder, nullptr, options);
  }

  // Starts `n` callers of get() for one page; their answers land in `answers`.
  void ask(PageSource& source, int n) {
    for (int i = 0; i < n; ++i) {
      asio::co_spawn(
          ctx,
          [this, &source]() -> asio::awaitable<void> {
            auto getting = source.get(PageKey{"r1", 0, 10});
            answers.push_back(co_await std::move(getting));
          },
          asio::detached);
    }
  }

  asio::io_context ctx;
  Gate gate{ctx.get_executor()};
  FakeBuilder builder{gate};
  std::vector<ApiResult<ServedPage>> answers;
};

TEST_P(PageSourcesTest, ConcurrentCallersShareOneBuild) {
  auto source = make_source();
  ask(*source, 20);
  ctx.poll();
  EXPECT_EQ(builder.builds, 1);
  EXPECT_TRUE(answers.empty()) << "every caller waits for the one build";
  gate.open();
  ctx.run();
  ASSERT_EQ(answers.size(), 20u);
  for (const auto& answer : answers) {
    ASSERT_TRUE(answer);
    EXPECT_EQ(*answer->page->body, "r1#1");
    EXPECT_EQ(answer->page.get(), answers[0]->page.get()) << "one page, shared";
  }
  EXPECT_EQ(source->stats().callers_coalesced, 19u);
}

TEST_P(PageSourcesTest, AFailedBuildHandsItsApiErrorToEveryCaller) {
  auto source = make_source();
  builder.failure =
      ApiError::unavailable("aggregator_unavailable", "The privilege aggregator is not answering.");
  ask(*source, 20);
  ctx.poll();
  gate.open();
  ctx.run();
  ASSERT_EQ(answers.size(), 20u);
  for (const auto& answer : answers) {
    ASSERT_FALSE(answer);
    EXPECT_EQ(answer.error().status, http::Status::service_unavailable);
    EXPECT_EQ(answer.error().code, "aggregator_unavailable") << "the builder's error, not a generic one";
    EXPECT_EQ(answer.error().message, "The privilege aggregator is not answering.");
  }
  EXPECT_EQ(builder.builds, 1);
}

INSTANTIATE_TEST_SUITE_P(Strategies, PageSourcesTest, ::testing::Values("singleflight", "cached"),
                         [](const auto& info) { return info.param; });

TEST(CachedPageSourceTest, AFailureIsKeptThroughTheBackOffWithItsError) {
  asio::io_context ctx;
  Gate gate{ctx.get_executor()};
  gate.open();
  FakeBuilder builder{gate};
  builder.failure = ApiError::unavailable("redis_unavailable", "Redis is not answering.");
  CachedSourceOptions options;
  options.executor = ctx.get_executor();
  auto source = make_cached_source(builder, nullptr, options);
  std::vector<ApiResult<ServedPage>> answers;
  for (int i = 0; i < 2; ++i) {
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
          auto getting = source->get(PageKey{"r1", 0, 10});
          answers.push_back(co_await std::move(getting));
        },
        asio::detached);
    ctx.restart();
    ctx.run();
  }
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(builder.builds, 1) << "the second caller, within the back-off, starts no build";
  for (const auto& answer : answers) {
    ASSERT_FALSE(answer);
    EXPECT_EQ(answer.error().code, "redis_unavailable");
  }
}

}  // namespace
}  // namespace micq::serve
