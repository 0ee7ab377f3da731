#include "room_store.h"

#include <spdlog/spdlog.h>

#include <charconv>

namespace micq::serve {

namespace asio = boost::asio;

std::string rank_key(std::string_view room) { return "micq:{" + std::string(room) + "}:rank"; }
std::string version_key(std::string_view room) { return "micq:{" + std::string(room) + "}:ver"; }
std::string idempotency_key(std::string_view room, std::string_view key) {
  return "micq:{" + std::string(room) + "}:idem:" + std::string(key);
}

namespace {

// Applies a validated request atomically (a script runs alone in Redis):
// the replay check, every score change, INCR ver, the stored answer.
// KEYS: rank, ver[, idem]. ARGV: triples of (type, uid, increment).
constexpr char kApplyEventsScript[] = R"lua(
local rank, ver = KEYS[1], KEYS[2]
if #KEYS > 2 then
  local previous = redis.call('GET', KEYS[3])
  if previous then return {1, previous} end
end
local applied = 0
for i = 1, #ARGV, 3 do
  local kind, uid, increment = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if kind == 'enter' then
    redis.call('ZADD', rank, 'NX', 0, uid)
  elseif kind == 'exit' then
    redis.call('ZREM', rank, uid)
  elseif kind ~= 'privilege' then
    redis.call('ZINCRBY', rank, increment, uid)
  end
  applied = applied + 1
end
local version = redis.call('INCR', ver)
local answer = '{"applied":' .. applied .. ',"version":' .. version .. '}'
if #KEYS > 2 then redis.call('SET', KEYS[3], answer, 'EX', 86400) end
return {0, answer}
)lua";

const char* type_name(EventType type) {
  switch (type) {
    case EventType::kEnter:
      return "enter";
    case EventType::kExit:
      return "exit";
    case EventType::kGift:
      return "gift";
    case EventType::kChat:
      return "chat";
    case EventType::kShare:
      return "share";
    case EventType::kPrivilege:
      return "privilege";
  }
  return "privilege";
}

bool parse_score(const std::string& text, double& score) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), score);
  return ec == std::errc() && end == text.data() + text.size();
}

// Built outside the coroutine: g++ 12 cannot keep an initializer list's
// array in a coroutine frame.
std::vector<redis::Command> page_read(const std::string& room, int page, int size) {
  std::string rank = rank_key(room);
  long start = static_cast<long>(page) * size;
  return {{"ZREVRANGE", rank, std::to_string(start), std::to_string(start + size - 1), "WITHSCORES"},
          {"ZCARD", rank},
          {"GET", version_key(room)}};
}

std::vector<std::string> script_keys(const std::string& room, const std::optional<std::string>& idempotency) {
  std::vector<std::string> keys{rank_key(room), version_key(room)};
  if (idempotency) keys.push_back(idempotency_key(room, *idempotency));
  return keys;
}

ApiError redis_unreachable(const boost::system::error_code& ec) {
  return ApiError::unavailable("redis_unavailable", "Redis is unreachable: " + ec.message() + ".");
}

}  // namespace

asio::awaitable<ApiResult<RankPage>> RoomStore::read_page(std::string room, int page, int size) {
  std::vector<redis::Command> commands = page_read(room, page, size);
  // Each awaitable is made in its own statement and then awaited: g++ 12
  // mishandles temporaries that live across a co_await in one expression.
  auto read = redis_.pipeline(std::move(commands), timeout_);
  auto replies = co_await std::move(read);
  if (!replies) {
    count_error();
    co_return redis_unreachable(replies.error());
  }
  const auto& range = (*replies)[0];
  const auto& card = (*replies)[1];
  const auto& version = (*replies)[2];
  if (range.type != redis::Reply::Type::kArray || range.elements.size() % 2 != 0 ||
      card.type != redis::Reply::Type::kInteger ||
      (version.type != redis::Reply::Type::kString && version.type != redis::Reply::Type::kNil)) {
    count_error();
    co_return ApiError::unavailable("redis_error", "Redis answered the page read with something unexpected.");
  }
  RankPage rank_page;
  rank_page.total = card.integer;
  if (version.type == redis::Reply::Type::kString) {
    std::from_chars(version.str.data(), version.str.data() + version.str.size(), rank_page.version);
  }
  rank_page.entries.reserve(range.elements.size() / 2);
  for (std::size_t i = 0; i < range.elements.size(); i += 2) {
    RankEntry entry{range.elements[i].str, 0};
    parse_score(range.elements[i + 1].str, entry.score);
    rank_page.entries.push_back(std::move(entry));
  }
  co_return rank_page;
}

asio::awaitable<ApiResult<std::string>> RoomStore::apply(std::string room, const std::vector<Event>& events,
                                                         std::optional<std::string> idempotency) {
  std::vector<std::string> keys = script_keys(room, idempotency);
  std::vector<std::string> args;
  args.reserve(events.size() * 3);
  for (const Event& event : events) {
    args.emplace_back(type_name(event.type));
    args.push_back(event.uid);
    args.push_back(std::to_string(event.increment));
  }
  auto call = redis_.eval(kApplyEventsScript, std::move(keys), std::move(args), timeout_);
  auto reply = co_await std::move(call);
  if (!reply) {
    count_error();
    co_return ApiError::unavailable("redis_unavailable", "Redis is unreachable; nothing was applied.");
  }
  if (reply->type != redis::Reply::Type::kArray || reply->elements.size() != 2 ||
      reply->elements[1].type != redis::Reply::Type::kString) {
    count_error();
    spdlog::error("events script answered unexpectedly: {}", reply->str);
    co_return ApiError::unavailable("redis_error", "Redis refused the events.");
  }
  co_return std::move(reply->elements[1].str);
}

}  // namespace micq::serve
