#include "audience.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>

#include "micq/http/message.h"
#include "micq/http/router.h"

namespace micq::up {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

http::ClientOptions audience_client() {
  http::ClientOptions options;
  options.max_idle = 64;
  return options;
}

}  // namespace

Audience::Audience(asio::any_io_executor executor, http::Upstream serve, AudienceOptions options)
    : options_(std::move(options)),
      serve_(std::move(executor), std::move(serve), audience_client()),
      etags_(static_cast<std::size_t>(std::max(0, options_.viewers))) {}

asio::awaitable<void> Audience::run(const bool& stopping) {
  if (etags_.empty()) co_return;
  auto executor = co_await asio::this_coro::executor;
  // A tick every 10 ms sends the polls that fell due since the last one:
  // viewer i polls at i / N of the period, then every period after.
  constexpr auto kTick = 10ms;
  const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(options_.period);
  const auto start = std::chrono::steady_clock::now();
  const std::size_t viewers = etags_.size();
  std::uint64_t sent = 0;  // polls due so far, over all periods
  asio::steady_timer tick(executor);
  while (!stopping) {
    auto elapsed = std::chrono::steady_clock::now() - start;
    auto due = static_cast<std::uint64_t>(static_cast<double>(elapsed.count()) /
                                          static_cast<double>(period.count()) * static_cast<double>(viewers));
    for (; sent < due; ++sent) {
      if (in_flight_ >= options_.max_in_flight) {
        ++stats_.skipped;
        continue;
      }
      ++in_flight_;
      asio::co_spawn(executor, poll(shared_from_this(), static_cast<std::size_t>(sent % viewers)),
                     asio::detached);
    }
    tick.expires_after(kTick);
    co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> Audience::poll(std::shared_ptr<Audience> self, std::size_t viewer) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!self->etags_[viewer].empty()) headers.emplace_back("If-None-Match", self->etags_[viewer]);
  auto asking = self->serve_.request(http::Method::get, self->options_.target, "", 2s, std::move(headers));
  auto answer = co_await std::move(asking);
  --self->in_flight_;
  AudienceStats& stats = self->stats_;
  if (!answer) {
    ++stats.failed;
  } else if (answer->result() == http::Status::ok) {
    ++stats.answered;
    self->etags_[viewer] = std::string((*answer)[boost::beast::http::field::etag]);
  } else if (answer->result() == http::Status::not_modified) {
    ++stats.not_modified;
  } else {
    ++stats.failed;
  }
}

}  // namespace micq::up
