#include "redis_stats.h"

#include <boost/asio/this_coro.hpp>
#include <charconv>
#include <chrono>

#include "micq/redis/client.h"

namespace micq::bench {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {
constexpr std::string_view kField = "total_commands_processed:";

// A function, so a co_await expression may take its list: g++ 12 rejects a
// braced list inside one (PR 103871, docs/design.md).
redis::Command info_stats() { return {"INFO", "stats"}; }
}  // namespace

std::optional<std::uint64_t> commands_processed_from(std::string_view info) {
  auto at = info.find(kField);
  // The field starts a line.
  while (at != std::string_view::npos && at > 0 && info[at - 1] != '\n') at = info.find(kField, at + 1);
  if (at == std::string_view::npos) return std::nullopt;
  const char* first = info.data() + at + kField.size();
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(first, info.data() + info.size(), value);
  if (ec != std::errc() || end == first) return std::nullopt;
  return value;
}

asio::awaitable<std::optional<std::uint64_t>> commands_processed(std::vector<redis::Endpoint> nodes) {
  if (nodes.empty()) co_return std::nullopt;
  auto executor = co_await asio::this_coro::executor;
  std::uint64_t sum = 0;
  for (const auto& node : nodes) {
    redis::RedisClient client(executor, node);
    auto asking = client.command(info_stats(), 1s);
    auto reply = co_await std::move(asking);
    if (!reply || reply->is_error()) co_return std::nullopt;
    auto processed = commands_processed_from(reply->str);
    if (!processed) co_return std::nullopt;
    sum += *processed;
  }
  co_return sum;
}

}  // namespace micq::bench
