#include "room_store.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>

#include "micq/redis/client.h"
#include "micq/redis/cluster.h"
#include "micq/service/event_types.h"

namespace micq::serve {

namespace asio = boost::asio;

std::string rank_key(std::string_view room) { return "micq:{" + std::string(room) + "}:rank"; }
std::string version_key(std::string_view room) { return "micq:{" + std::string(room) + "}:ver"; }
std::string idempotency_key(std::string_view room, std::string_view key) {
  return "micq:{" + std::string(room) + "}:idem:" + std::string(key);
}
std::string changed_channel(std::string_view room) { return "micq:{" + std::string(room) + "}:changed"; }
std::string fleet_channel(std::string_view room) { return "micq:{" + std::string(room) + "}:fleet"; }
std::string shared_record_key(std::string_view room, std::string_view uid) {
  return "micq:{" + std::string(room) + "}:rec:" + std::string(uid);
}
std::string privilege_generation_key(std::string_view room) {
  return "micq:{" + std::string(room) + "}:privgen";
}

namespace {

// Applies a validated request atomically (a script runs alone in Redis):
// the deadline check, the replay check, the score bound, every score
// change, INCR ver, the stored answer, and the notifications: the new
// version on the changed channel (SPEC §8), and for `privilege` events the
// users' shared records dropped, the room's privilege generation
// incremented (a batch in flight then does not share what it brings) and
// the users named on the fleet channel (before the version, so an instance
// has forgotten them when it rebuilds).
// KEYS: rank, ver[, idem]. ARGV: the deadline (Unix microseconds: serve
// gives up at it or later, so whatever it gave up on is refused), the
// changed channel, the fleet channel, the shared record key prefix, "1" to
// report the master's connected replicas (else "0"), the privilege
// generation key, then triples of (type, uid, increment). The channels,
// records and generation share the keys' slot; they are not KEYS because
// a key that may not exist, named in KEYS, makes a slot being migrated
// answer TRYAGAIN where it would otherwise serve the script.
// Answers {0, answer, version, replicas} applied; {1, answer} a replay; {2, "late"} refused,
// the deadline having passed (serve stopped waiting: a Redis that resumes
// late must not apply what the client was told may not be); {3, uid}
// refused, that uid's score would pass 2^53 - 1. Nothing is written before
// every check has passed.
constexpr char kApplyEventsScript[] = R"lua(
local rank, ver = KEYS[1], KEYS[2]
local now = redis.call('TIME')
if tonumber(now[1]) * 1000000 + tonumber(now[2]) >= tonumber(ARGV[1]) then
  return {2, 'late'}
end
if #KEYS > 2 then
  local previous = redis.call('GET', KEYS[3])
  if previous then return {1, previous} end
end
-- Each touched score as it will be after each event (false: not a member).
-- Lua numbers are doubles: exact for these integers up to 2^53.
local scores = {}
for i = 7, #ARGV, 3 do
  local kind, uid, increment = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if kind ~= 'privilege' then
    local score = scores[uid]
    if score == nil then score = tonumber(redis.call('ZSCORE', rank, uid)) or false end
    if kind == 'enter' then
      if score == false then score = 0 end
    elseif kind == 'exit' then
      score = false
    else
      score = (score or 0) + tonumber(increment)
      if score > 9007199254740991 then return {3, uid} end
    end
    scores[uid] = score
  end
end
local applied = 0
local privileged = {}
for i = 7, #ARGV, 3 do
  local kind, uid, increment = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if kind == 'enter' then
    redis.call('ZADD', rank, 'NX', 0, uid)
  elseif kind == 'exit' then
    redis.call('ZREM', rank, uid)
  elseif kind ~= 'privilege' then
    redis.call('ZINCRBY', rank, increment, uid)
  else
    redis.call('DEL', ARGV[4] .. uid)
    privileged[#privileged + 1] = uid
  end
  applied = applied + 1
end
local version = redis.call('INCR', ver)
local answer = '{"applied":' .. applied .. ',"version":' .. version .. '}'
if #KEYS > 2 then redis.call('SET', KEYS[3], answer, 'EX', 86400) end
if #privileged > 0 then
  redis.call('INCR', ARGV[6])
  redis.call('SPUBLISH', ARGV[3], 'invalidate ' .. version .. ' ' .. table.concat(privileged, ' '))
end
redis.call('SPUBLISH', ARGV[2], tostring(version))
local replicas = 0
if ARGV[5] == '1' then
  replicas = tonumber(string.match(redis.call('INFO', 'replication'), 'connected_slaves:(%d+)')) or 0
end
return {0, answer, version, replicas}
)lua";

bool parse_score(const std::string& text, double& score) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), score);
  return ec == std::errc() && end == text.data() + text.size();
}

// The commands of one page read.
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

asio::awaitable<ApiResult<Applied>> RoomStore::apply(std::string room, const std::vector<Event>& events,
                                                     std::optional<std::string> idempotency) {
  std::vector<std::string> keys = script_keys(room, idempotency);
  std::vector<std::string> args;
  args.reserve(4 + events.size() * 3);
  // Serve's wall clock against Redis's TIME: hosts kept in step by NTP
  // differ by milliseconds, well inside a deadline of hundreds.
  auto deadline = std::chrono::system_clock::now() + timeout_;
  args.push_back(std::to_string(
      std::chrono::duration_cast<std::chrono::microseconds>(deadline.time_since_epoch()).count()));
  args.push_back(changed_channel(room));
  args.push_back(fleet_channel(room));
  args.push_back(shared_record_key(room, ""));
  args.push_back(wait_replicas_ > 0 ? "1" : "0");
  args.push_back(privilege_generation_key(room));
  for (const Event& event : events) {
    args.emplace_back(service::name_of(service::kEventTypeNames, event.type));
    args.push_back(event.uid);
    args.push_back(std::to_string(event.increment));
  }
  // Replicas get half of the deadline: the script's own run takes little.
  // WAIT asks for as many as the room's master had last time (up to the
  // wanted number): a master promoted by a failover has none until one
  // joins, and must not make every event wait for the WAIT's timeout.
  std::int64_t replicas = -1;
  auto wait = timeout_ / 2;
  std::atomic<int>* seen = wait_replicas_ > 0 ? &replicas_seen_[redis::key_slot(keys.front())] : nullptr;
  const int asked = seen ? std::min(wait_replicas_, seen->load(std::memory_order_relaxed)) : 0;
  boost::system::result<redis::Reply> reply = redis::Reply{};
  if (asked > 0) {
    auto call =
        redis_.eval_replicated(kApplyEventsScript, std::move(keys), std::move(args), asked, wait, timeout_);
    auto replicated = co_await std::move(call);
    if (replicated) {
      replicas = replicated->replicas;
      reply = std::move(replicated->reply);
    } else {
      reply = replicated.error();
    }
  } else {
    auto call = redis_.eval(kApplyEventsScript, std::move(keys), std::move(args), timeout_);
    reply = co_await std::move(call);
  }
  if (!reply) {
    count_error();
    // Only a call that never reached Redis is known to have applied
    // nothing; one that was sent and got no answer may have run.
    if (reply.error() == redis::Error::kUnavailable)
      co_return ApiError::unavailable("redis_unavailable", "Redis is unreachable; nothing was applied.");
    co_return ApiError::unavailable(
        "outcome_unknown", "Redis did not answer within " + std::to_string(timeout_.count()) +
                               " ms; the events may or may not have been applied (a retry with the same "
                               "Idempotency-Key is safe).");
  }
  if (reply->type != redis::Reply::Type::kArray || reply->elements.size() < 2 ||
      reply->elements[0].type != redis::Reply::Type::kInteger ||
      reply->elements[1].type != redis::Reply::Type::kString ||
      (reply->elements[0].integer == 0 &&
       (reply->elements.size() != 4 || reply->elements[2].type != redis::Reply::Type::kInteger ||
        reply->elements[3].type != redis::Reply::Type::kInteger))) {
    count_error();
    spdlog::error("events script answered unexpectedly: {}", reply->str);
    co_return ApiError::unavailable("redis_error", "Redis refused the events.");
  }
  switch (reply->elements[0].integer) {
    case 2:
      count_error();
      co_return ApiError::unavailable("redis_unavailable",
                                      "Redis answered after the request's deadline; nothing was applied.");
    case 3:
      co_return ApiError{http::Status::bad_request, "score_overflow",
                         "The request would take the score of " + reply->elements[1].str +
                             " past 2^53 - 1; nothing was applied."};
    case 1:
      co_return Applied{std::move(reply->elements[1].str), 0, true};
    default: {
      if (wait_replicas_ == 0)
        co_return Applied{std::move(reply->elements[1].str), reply->elements[2].integer, false};
      // Acknowledged once every replica the master has (up to the wanted
      // number) has it: with none left (its replica promoted, none joined
      // yet) the master's own copy is all there is to have.
      const auto connected = reply->elements[3].integer;
      seen->store(static_cast<int>(std::min<std::int64_t>(connected, wait_replicas_)),
                  std::memory_order_relaxed);
      const std::int64_t needed = std::min<std::int64_t>(wait_replicas_, connected);
      if (std::max<std::int64_t>(0, replicas) < needed) {
        count_error();
        co_return ApiError::unavailable(
            "outcome_unknown",
            "The events were applied but reached " + std::to_string(std::max<std::int64_t>(0, replicas)) +
                " of " + std::to_string(needed) + " Redis replicas within " + std::to_string(wait.count()) +
                " ms; a failover now could lose them (a retry with the same Idempotency-Key "
                "is safe).");
      }
      co_return Applied{std::move(reply->elements[1].str), reply->elements[2].integer, false};
    }
  }
}

}  // namespace micq::serve
