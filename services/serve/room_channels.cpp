#include "room_channels.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <charconv>
#include <unordered_map>
#include <utility>

#include "micq/coalesce/shared_load.h"
#include "micq/sync/mutex.h"
#include "room_store.h"

namespace micq::serve {

namespace asio = boost::asio;
using Notice = coalesce::SharedLoad<bool>;

namespace {

enum class ChannelKind { kChanged, kFleet };

// "micq:{<room>}:changed" / "micq:{<room>}:fleet" -> the room and which.
std::optional<std::pair<std::string, ChannelKind>> parse_channel(std::string_view channel) {
  constexpr std::string_view kPrefix = "micq:{";
  if (channel.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  channel.remove_prefix(kPrefix.size());
  auto close = channel.find("}:");
  if (close == std::string_view::npos || close == 0) return std::nullopt;
  std::string room(channel.substr(0, close));
  std::string_view rest = channel.substr(close + 2);
  if (rest == "changed") return std::pair{std::move(room), ChannelKind::kChanged};
  if (rest == "fleet") return std::pair{std::move(room), ChannelKind::kFleet};
  return std::nullopt;
}

std::optional<std::int64_t> parse_version(std::string_view text) {
  std::int64_t version = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (ec != std::errc() || end != text.data() + text.size() || version < 0) return std::nullopt;
  return version;
}

// The words of a message, split at spaces.
redis::Command version_command(const std::string& room) { return {"GET", version_key(room)}; }

std::vector<std::string_view> words_of(std::string_view text) {
  std::vector<std::string_view> words;
  while (!text.empty()) {
    auto space = text.find(' ');
    if (space != 0) words.push_back(text.substr(0, space));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return words;
}

}  // namespace

struct RoomChannels::State : std::enable_shared_from_this<RoomChannels::State> {
  struct Room {
    int holds = 0;
    int watchers = 0;
    bool heard = false;              // its changed channel was confirmed once already
    std::shared_ptr<Notice> notice;  // the next wake-up; set while watchers > 0
  };

  State(asio::any_io_executor ex, std::vector<redis::Endpoint> nodes, redis::Subscriber::Mode mode,
        redis::Commands& r, std::chrono::milliseconds t, redis::SubscriberOptions options)
      : executor(ex),
        redis(r),
        timeout(t),
        subscriber(std::make_unique<redis::Subscriber>(
            ex, std::move(nodes), mode,
            redis::SubscriberCallbacks{[this](const std::string& channel, const std::string& payload) {
                                         on_message(channel, payload);
                                       },
                                       [this](const std::string& channel) { on_subscribed(channel); },
                                       {}},
            options)) {}

  ~State() { subscriber.reset(); }  // first: no callback runs into the members below after this

  RoomChannelHandlers current_handlers() const {
    sync::MutexLock lock(mu);
    return handlers;
  }

  void on_message(const std::string& channel, const std::string& payload) {
    auto parsed = parse_channel(channel);
    if (!parsed) return;
    auto& [room, kind] = *parsed;
    RoomChannelHandlers handlers = current_handlers();
    if (kind == ChannelKind::kChanged) {
      if (auto version = parse_version(payload); version && handlers.changed)
        handlers.changed(room, *version);
      return;
    }
    std::vector<std::string_view> words = words_of(payload);
    if (words.empty()) return;
    if (words[0] == kRecordsPublished || words[0] == kPagePublished) {
      wake(room);
    } else if (words[0] == "invalidate" && words.size() >= 3 && handlers.invalidated) {
      auto version = parse_version(words[1]);
      if (!version) return;
      std::vector<std::string> uids(words.begin() + 2, words.end());
      handlers.invalidated(room, *version, uids);
    }
  }

  // A confirmed subscription. Confirmed again after a loss, whatever was
  // published meanwhile was not heard, so the room counts as changed. (The
  // first time, only what changed between the page's load and now, one
  // round trip, is missed: the TTL covers it.) Watchers look again.
  void on_subscribed(const std::string& channel) {
    auto parsed = parse_channel(channel);
    if (!parsed) return;
    auto& [room, kind] = *parsed;
    if (kind == ChannelKind::kChanged) {
      bool again = false;
      {
        sync::MutexLock lock(mu);
        auto it = rooms.find(room);
        if (it == rooms.end()) return;
        again = std::exchange(it->second.heard, true);
      }
      if (again) {
        RoomChannelHandlers handlers = current_handlers();
        if (handlers.changed) handlers.changed(room, std::nullopt);
      } else if (auto self = weak_from_this().lock()) {  // null while ~State waits for this callback
        asio::co_spawn(executor, catch_up(std::move(self), room), asio::detached);
      }
    } else {
      wake(room);
    }
  }

  // Reads the version of a room whose notifications just began.
  static asio::awaitable<void> catch_up(std::shared_ptr<State> st, std::string room) {
    auto read = st->redis.command(version_command(room), st->timeout);
    auto version = co_await std::move(read);
    RoomChannelHandlers handlers = st->current_handlers();
    std::optional<std::int64_t> parsed;
    if (version && version->type == redis::Reply::Type::kNil) parsed = 0;
    if (version && version->type == redis::Reply::Type::kString) parsed = parse_version(version->str);
    if (parsed) {
      if (handlers.caught_up) handlers.caught_up(room, *parsed);
    } else if (handlers.changed) {
      handlers.changed(room, std::nullopt);  // not known: rebuild to be sure
    }
  }

  void wake(const std::string& room) {
    std::shared_ptr<Notice> woken;
    {
      sync::MutexLock lock(mu);
      auto it = rooms.find(room);
      if (it == rooms.end() || !it->second.notice) return;
      woken = std::move(it->second.notice);
      it->second.notice = Notice::create(executor);
    }
    woken->set(true);
  }

  void hold(const std::string& room) {
    sync::MutexLock lock(mu);
    if (rooms[room].holds++ == 0) {
      subscriber->subscribe(changed_channel(room));
      subscriber->subscribe(fleet_channel(room));
    }
  }

  void release(const std::string& room) {
    sync::MutexLock lock(mu);
    auto it = rooms.find(room);
    if (it == rooms.end() || --it->second.holds > 0) return;
    subscriber->unsubscribe(changed_channel(room));
    subscriber->unsubscribe(fleet_channel(room));
    rooms.erase(it);
  }

  const asio::any_io_executor executor;
  redis::Commands& redis;
  const std::chrono::milliseconds timeout;
  mutable sync::Mutex mu;
  RoomChannelHandlers handlers MICQ_GUARDED_BY(mu);  // called outside it
  std::unordered_map<std::string, Room> rooms MICQ_GUARDED_BY(mu);
  std::unique_ptr<redis::Subscriber> subscriber;
};

struct RoomChannels::Watch::Impl {
  std::shared_ptr<State> state;
  std::string room;
  std::shared_ptr<Notice> notice;  // the wake-up it awaits next
};

RoomChannels::Watch::Watch(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RoomChannels::Watch::Watch(Watch&&) noexcept = default;

RoomChannels::Watch::~Watch() {
  if (!impl_) return;
  State& st = *impl_->state;
  {
    sync::MutexLock lock(st.mu);
    auto it = st.rooms.find(impl_->room);
    if (it != st.rooms.end() && --it->second.watchers == 0) it->second.notice.reset();
  }
  st.release(impl_->room);
}

asio::awaitable<bool> RoomChannels::Watch::next(std::chrono::milliseconds timeout) {
  auto waiting = impl_->notice->wait(std::chrono::steady_clock::duration(timeout));
  coalesce::Result<bool> woken = co_await std::move(waiting);
  if (!woken.ok()) co_return false;
  State& st = *impl_->state;
  sync::MutexLock lock(st.mu);
  auto it = st.rooms.find(impl_->room);
  if (it != st.rooms.end() && it->second.notice) impl_->notice = it->second.notice;
  co_return true;
}

RoomChannels::RoomChannels(asio::any_io_executor executor, std::vector<redis::Endpoint> nodes,
                           redis::Subscriber::Mode mode, redis::Commands& redis,
                           std::chrono::milliseconds timeout, redis::SubscriberOptions options)
    : state_(std::make_shared<State>(std::move(executor), std::move(nodes), mode, redis, timeout, options)) {}

RoomChannels::~RoomChannels() = default;

void RoomChannels::set_handlers(RoomChannelHandlers handlers) {
  sync::MutexLock lock(state_->mu);
  state_->handlers = std::move(handlers);
}

void RoomChannels::hold(const std::string& room) { state_->hold(room); }
void RoomChannels::release(const std::string& room) { state_->release(room); }

RoomChannels::Watch RoomChannels::watch(const std::string& room) {
  auto impl = std::make_unique<Watch::Impl>();
  impl->state = state_;
  impl->room = room;
  state_->hold(room);
  sync::MutexLock lock(state_->mu);
  State::Room& entry = state_->rooms[room];
  ++entry.watchers;
  if (!entry.notice) entry.notice = Notice::create(state_->executor);
  impl->notice = entry.notice;
  return Watch(std::move(impl));
}

RoomChannelStats RoomChannels::stats() const {
  RoomChannelStats s;
  {
    sync::MutexLock lock(state_->mu);
    s.rooms = state_->rooms.size();
  }
  s.subscriber = state_->subscriber->stats();
  return s;
}

}  // namespace micq::serve
