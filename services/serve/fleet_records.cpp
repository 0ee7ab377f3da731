#include "fleet_records.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

namespace micq::serve {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

namespace {

// Every shared copy asked for and its remaining life, and the room's
// privilege generation, in one round trip. KEYS: the record keys, then the
// generation. Answers {value, pttl, value, pttl, ..., generation}; a
// missing copy is "" with a negative pttl, no generation yet is "0".
constexpr char kReadScript[] = R"lua(
local out = {}
for i = 1, #KEYS - 1 do
  out[2 * i - 1] = redis.call('GET', KEYS[i]) or ''
  out[2 * i] = redis.call('PTTL', KEYS[i])
end
out[#out + 1] = redis.call('GET', KEYS[#KEYS]) or '0'
return out
)lua";

// A fetch's end: its records written back with the life they have left,
// unless a `privilege` event came since the generation was read (the
// records may then predate it: they serve this instance, not the fleet);
// the fetch's lock released; the waiters told. KEYS: the generation, the
// record keys[, the lock]. ARGV: the generation read before the batch
// began ("" unknown: write nothing), the life in ms, "1" when the last key
// is the lock, the fleet channel, its message, then one copy per record key.
// Answers how many records it wrote.
constexpr char kShareScript[] = R"lua(
local locked = ARGV[3] == '1'
local records = #KEYS - 1 - (locked and 1 or 0)
local written = 0
if ARGV[1] ~= '' and (redis.call('GET', KEYS[1]) or '0') == ARGV[1] then
  for i = 1, records do
    redis.call('SET', KEYS[i + 1], ARGV[i + 5], 'PX', ARGV[2])
  end
  written = records
end
if locked then redis.call('DEL', KEYS[#KEYS]) end
redis.call('SPUBLISH', ARGV[4], ARGV[5])
return written
)lua";

// A shared copy: the kinds its batch reported degraded (comma separated),
// a newline, the record's JSON.
std::string encode(const PrivilegeRecord& record) {
  std::string out;
  if (record.degraded) {
    for (const auto& kind : *record.degraded) {
      if (!out.empty()) out += ',';
      out += kind;
    }
  }
  out += '\n';
  out += record.json;
  return out;
}

std::optional<PrivilegeRecord> decode(std::string_view text) {
  auto newline = text.find('\n');
  if (newline == std::string_view::npos || newline + 1 >= text.size()) return std::nullopt;
  PrivilegeRecord record;
  record.json = std::string(text.substr(newline + 1));
  std::string_view kinds = text.substr(0, newline);
  if (!kinds.empty()) {
    auto degraded = std::make_shared<std::vector<std::string>>();
    while (!kinds.empty()) {
      auto comma = kinds.find(',');
      degraded->emplace_back(kinds.substr(0, comma));
      if (comma == std::string_view::npos) break;
      kinds.remove_prefix(comma + 1);
    }
    record.degraded = std::move(degraded);
  }
  return record;
}

// The lock of one fetch: instances rebuilding the same page ask for the
// same users, so they meet on one key (FNV-1a of the sorted uids).
std::string lock_key(const std::string& room, std::vector<std::string> uids) {
  std::sort(uids.begin(), uids.end());
  std::uint64_t hash = 14695981039346656037ull;
  for (const auto& uid : uids) {
    for (unsigned char c : uid) hash = (hash ^ c) * 1099511628211ull;
    hash = (hash ^ 0xff) * 1099511628211ull;  // a separator no uid byte can be
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return "micq:{" + room + "}:reclock:" + hex;
}

// A function, so a co_await expression may take its list: g++ 12 rejects a
// braced list inside one (PR 103871, docs/design.md).
redis::Command lock_command(const std::string& key, milliseconds hold) {
  return {"SET", key, "1", "NX", "PX", std::to_string(hold.count())};
}
// A lock let go of without a fetch, and the room's waiters told to look again.
std::vector<redis::Command> release_commands(const std::string& room, const std::string& lock) {
  return {{"DEL", lock}, {"SPUBLISH", fleet_channel(room), std::string(kRecordsPublished)}};
}

std::vector<std::string> record_keys(const std::string& room, const std::vector<std::string>& uids) {
  std::vector<std::string> keys;
  keys.reserve(uids.size());
  for (const auto& uid : uids) keys.push_back(shared_record_key(room, uid));
  return keys;
}

}  // namespace

asio::awaitable<ApiResult<std::string>> FleetRecords::batch_body(std::vector<std::string> uids) {
  return inner_.batch_body(std::move(uids));
}

asio::awaitable<std::optional<FleetRecords::Found>> FleetRecords::read_shared(std::string room,
                                                                              std::vector<std::string> uids,
                                                                              nanoseconds accept_age) {
  std::vector<std::string> keys = record_keys(room, uids);
  keys.push_back(privilege_generation_key(room));
  auto call = rooms_.redis().eval(kReadScript, std::move(keys), {}, rooms_.timeout());
  auto reply = co_await std::move(call);
  if (!reply || reply->type != redis::Reply::Type::kArray || reply->elements.size() != 2 * uids.size() + 1 ||
      reply->elements.back().type != redis::Reply::Type::kString) {
    rooms_.count_error();
    co_return std::nullopt;
  }
  Found found;
  found.generation = reply->elements.back().str;
  found.records.resize(uids.size());
  for (std::size_t i = 0; i < uids.size(); ++i) {
    const redis::Reply& value = reply->elements[2 * i];
    const redis::Reply& left = reply->elements[2 * i + 1];
    if (value.type != redis::Reply::Type::kString || value.str.empty() || left.integer <= 0) continue;
    nanoseconds age =
        std::max(nanoseconds::zero(), nanoseconds(ttl_) - nanoseconds(milliseconds(left.integer)));
    if (age > accept_age) continue;
    auto record = decode(value.str);
    if (!record) continue;
    record->age = age;
    found.records[i] = std::move(record);
  }
  co_return found;
}

asio::awaitable<ApiResult<std::vector<PrivilegeRecord>>> FleetRecords::fetch_and_share(
    const std::string& room, std::vector<std::string> uids, std::string held_lock,
    std::optional<std::string> generation) {
  auto started = std::chrono::steady_clock::now();
  users_fetched_.fetch_add(uids.size(), std::memory_order_relaxed);
  auto call = inner_.records(uids, RecordsScope{});
  ApiResult<std::vector<PrivilegeRecord>> fetched = co_await std::move(call);
  // Shared with the life they have left, so that no instance holds them
  // longer than one TTL after the batch began; then the lock goes and the
  // waiters are told (also after a failure: they then fetch themselves).
  auto life = ttl_ - std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started);
  bool share = fetched && generation && life.count() > 0;
  if (!share && held_lock.empty()) co_return fetched;  // nothing to write, nobody waits on a lock
  std::vector<std::string> keys{privilege_generation_key(room)};
  std::vector<std::string> args{share ? *generation : std::string(), std::to_string(life.count()),
                                held_lock.empty() ? "0" : "1", fleet_channel(room),
                                std::string(kRecordsPublished)};
  if (share) {
    for (std::size_t i = 0; i < uids.size(); ++i) {
      keys.push_back(shared_record_key(room, uids[i]));
      args.push_back(encode((*fetched)[i]));
    }
  }
  if (!held_lock.empty()) keys.push_back(held_lock);
  auto write = rooms_.redis().eval(kShareScript, std::move(keys), std::move(args), rooms_.timeout());
  auto written = co_await std::move(write);
  if (!written) {
    rooms_.count_error();
  } else if (share && written->type == redis::Reply::Type::kInteger && written->integer == 0) {
    unshared_.fetch_add(1, std::memory_order_relaxed);
  }
  co_return fetched;
}

void FleetRecords::Pending::take(const Found& found, std::atomic<std::uint64_t>& shared) {
  generation = found.generation;
  std::vector<std::size_t> left;
  for (std::size_t k = 0; k < missing.size(); ++k) {
    if (found.records[k]) {
      out[missing[k]] = *found.records[k];
      shared.fetch_add(1, std::memory_order_relaxed);
    } else {
      left.push_back(missing[k]);
    }
  }
  missing = std::move(left);
}

std::vector<std::string> FleetRecords::Pending::missing_uids() const {
  std::vector<std::string> picked;
  picked.reserve(missing.size());
  for (std::size_t i : missing) picked.push_back(uids[i]);
  return picked;
}

asio::awaitable<std::string> FleetRecords::claim_or_wait(const std::string& room, Pending& pending,
                                                         nanoseconds accept_age) {
  std::string lock = lock_key(room, pending.missing_uids());
  auto locking = rooms_.redis().command(lock_command(lock, rooms_.timeout() * 2), rooms_.timeout());
  auto locked = co_await std::move(locking);
  if (!locked) co_return std::string();  // Redis failing: fetch here, unlocked
  if (locked->type == redis::Reply::Type::kStatus) {
    // The lock may be free because another instance has just shared these
    // users and let go of it (after our first read): look once more, so
    // the fleet does not ask the aggregator for them twice.
    auto again = read_shared(room, pending.missing_uids(), accept_age);
    std::optional<Found> found = co_await std::move(again);
    if (found) pending.take(*found, users_shared_);
    if (!pending.missing.empty()) co_return lock;
    // Nothing to fetch: the lock goes, and whoever waits on it looks again.
    auto releasing = rooms_.redis().pipeline(release_commands(room, lock), rooms_.timeout());
    auto released = co_await std::move(releasing);
    if (!released) rooms_.count_error();
    co_return std::string();
  }
  lock_waits_.fetch_add(1, std::memory_order_relaxed);
  // Watching before looking again: a "records" after this is not missed.
  RoomChannels::Watch watch = channels_.watch(room);
  const auto give_up = std::chrono::steady_clock::now() + rooms_.timeout() * 2;
  while (true) {
    auto again = read_shared(room, pending.missing_uids(), accept_age);
    std::optional<Found> found = co_await std::move(again);
    if (!found) break;
    pending.take(*found, users_shared_);
    if (pending.missing.empty()) break;
    auto left = std::chrono::duration_cast<milliseconds>(give_up - std::chrono::steady_clock::now());
    bool woken = false;
    if (left.count() > 0) {
      auto waiting = watch.next(left);
      woken = co_await std::move(waiting);
    }
    if (!woken) {
      wait_timeouts_.fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  co_return std::string();
}

asio::awaitable<ApiResult<std::vector<PrivilegeRecord>>> FleetRecords::records(std::vector<std::string> uids,
                                                                               RecordsScope scope) {
  if (scope.room.empty()) {
    auto direct = inner_.records(std::move(uids), RecordsScope{});
    co_return co_await std::move(direct);
  }
  const std::string& room = scope.room;
  Pending pending;
  pending.out.resize(uids.size());
  pending.missing.resize(uids.size());
  for (std::size_t i = 0; i < uids.size(); ++i) pending.missing[i] = i;
  pending.uids = std::move(uids);
  auto first = read_shared(room, pending.uids, scope.accept_age);
  std::optional<Found> found = co_await std::move(first);
  std::string held_lock;
  // Redis failing: the aggregator, as without a fleet.
  if (found) {
    pending.take(*found, users_shared_);
    if (pending.missing.empty()) co_return std::move(pending.out);
    // One instance fetches; the others wait for its "records".
    auto claiming = claim_or_wait(room, pending, scope.accept_age);
    held_lock = co_await std::move(claiming);
    if (pending.missing.empty()) co_return std::move(pending.out);
  }
  auto fetching = fetch_and_share(room, pending.missing_uids(), std::move(held_lock), pending.generation);
  ApiResult<std::vector<PrivilegeRecord>> fetched = co_await std::move(fetching);
  if (!fetched) co_return fetched.error();
  for (std::size_t k = 0; k < pending.missing.size(); ++k)
    pending.out[pending.missing[k]] = std::move((*fetched)[k]);
  co_return std::move(pending.out);
}

FleetRecordsStats FleetRecords::stats() const {
  FleetRecordsStats s;
  s.users_shared = users_shared_.load(std::memory_order_relaxed);
  s.users_fetched = users_fetched_.load(std::memory_order_relaxed);
  s.lock_waits = lock_waits_.load(std::memory_order_relaxed);
  s.wait_timeouts = wait_timeouts_.load(std::memory_order_relaxed);
  s.batches_unshared = unshared_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace micq::serve
