#include "shared_pages.h"

#include <charconv>

namespace micq::serve {

namespace asio = boost::asio;

namespace {

std::string l2_prefix(const PageKey& key) { return "micq:{" + key.room_id + "}:l2:"; }
std::string l2_suffix(const PageKey& key) {
  return ":" + std::to_string(key.page) + ":" + std::to_string(key.size);
}
std::string l2_page_key(const PageKey& key, std::string_view version) {
  return l2_prefix(key) + std::string(version) + l2_suffix(key);
}
std::string l2_lock_key(const PageKey& key, std::string_view version) {
  return "micq:{" + key.room_id + "}:l2lock:" + std::string(version) + l2_suffix(key);
}

// The room's version and that version's shared page with its remaining
// life, in one round trip.
constexpr char kLookupScript[] = R"lua(
local version = redis.call('GET', KEYS[1]) or '0'
local page_key = ARGV[1] .. version .. ARGV[2]
return {version, redis.call('GET', page_key), redis.call('PTTL', page_key)}
)lua";

// A function, so a co_await expression may take its list: g++ 12 rejects a
// braced list inside one (PR 103871, docs/design.md).
redis::Command lock_command(const std::string& lock_key, std::chrono::milliseconds hold) {
  return {"SET", lock_key, "1", "NX", "PX", std::to_string(hold.count())};
}
std::vector<redis::Command> publish_commands(const PageKey& key, const Page& page,
                                             std::chrono::milliseconds left, const std::string& lock_key) {
  std::vector<redis::Command> commands{{"SET", l2_page_key(key, std::to_string(page.version)), *page.body,
                                        "PX", std::to_string(left.count())}};
  if (!lock_key.empty()) commands.push_back({"DEL", lock_key});
  commands.push_back({"SPUBLISH", fleet_channel(key.room_id), std::string(kPagePublished)});
  return commands;
}

std::vector<std::string> lookup_keys(const PageKey& key) { return {version_key(key.room_id)}; }
std::vector<std::string> lookup_args(const PageKey& key) { return {l2_prefix(key), l2_suffix(key)}; }

}  // namespace

asio::awaitable<std::optional<SharedPageBuilder::Lookup>> SharedPageBuilder::lookup(const PageKey& key) {
  auto call = rooms_.redis().eval(kLookupScript, lookup_keys(key), lookup_args(key), rooms_.timeout());
  auto reply = co_await std::move(call);
  if (!reply || reply->type != redis::Reply::Type::kArray || reply->elements.size() != 3) {
    rooms_.count_error();
    co_return std::nullopt;
  }
  Lookup found;
  found.version = reply->elements[0].str;
  const redis::Reply& body = reply->elements[1];
  if (body.type == redis::Reply::Type::kString && !body.str.empty()) {
    std::int64_t version = 0;
    std::from_chars(found.version.data(), found.version.data() + found.version.size(), version);
    Page page = finish_page(body.str, version, options_);
    std::int64_t left_ms = std::max<std::int64_t>(0, reply->elements[2].integer);
    page.age = std::max(
        std::chrono::nanoseconds::zero(),
        std::chrono::nanoseconds(ttl_) - std::chrono::nanoseconds(std::chrono::milliseconds(left_ms)));
    found.page = std::move(page);
  }
  co_return found;
}

asio::awaitable<ApiResult<Page>> SharedPageBuilder::build(PageKey key, RecordNeed need) {
  auto first = lookup(key);
  std::optional<Lookup> found = co_await std::move(first);
  // A shared page past half its life is not taken: the cache would hold it
  // for what is left, and a refresh ahead of expiry would find the same
  // page again (and again, until it expires and callers wait). It is built
  // anew instead, by one instance, the others taking the new one.
  auto young = [this](const std::optional<Lookup>& lookup) {
    return lookup && lookup->page && lookup->page->age < std::chrono::nanoseconds(ttl_) / 2;
  };
  if (young(found)) co_return std::move(*found->page);
  // One instance builds this version's page; the others wait for it.
  std::string lock_key;
  if (found) {
    std::string candidate = l2_lock_key(key, found->version);
    auto lock_call = rooms_.redis().command(lock_command(candidate, rooms_.timeout() * 2), rooms_.timeout());
    auto locked = co_await std::move(lock_call);
    bool leader = locked && locked->type == redis::Reply::Type::kStatus;
    if (leader) lock_key = std::move(candidate);
    if (locked && !leader) {
      // Another instance is building it: its page lands in Redis and it
      // says so on the room's fleet channel. Watching first, then looking:
      // a page published in between is not missed. Built here after
      // waiting as long as a build may take.
      RoomChannels::Watch watch = channels_.watch(key.room_id);
      auto give_up = std::chrono::steady_clock::now() + rooms_.timeout() * 2;
      while (true) {
        auto again = lookup(key);
        std::optional<Lookup> now = co_await std::move(again);
        if (young(now)) co_return std::move(*now->page);
        if (!now || now->version != found->version) break;  // Redis failing, or an event moved the room on
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        auto waiting = watch.next(left);
        if (!co_await std::move(waiting)) break;
      }
    }
  }
  auto started = std::chrono::steady_clock::now();
  auto building = inner_.build(key, need);
  ApiResult<Page> page = co_await std::move(building);
  if (!page) co_return page;
  // Publish with the life the page has left, so that no instance serves it
  // longer than one TTL after its data was read.
  auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                     started + page->age);
  auto left = ttl_ - spent;
  if (left.count() > 0) {
    auto publish = rooms_.redis().pipeline(publish_commands(key, *page, left, lock_key), rooms_.timeout());
    auto published = co_await std::move(publish);
    if (!published) rooms_.count_error();
  }
  co_return page;
}

}  // namespace micq::serve
