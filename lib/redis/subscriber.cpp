#include "micq/redis/subscriber.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include "micq/redis/cluster.h"
#include "micq/redis/internal/reply_conversion.h"
#include "micq/redis/internal/wire.h"
#include "micq/sync/mutex.h"

namespace micq::redis {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// Channels per SSUBSCRIBE: a node holding thousands of rooms is
// resubscribed in a few writes, none of them huge.
constexpr std::size_t kChannelsPerCommand = 256;

using internal::backoff_after;

// A push or a reply in subscribed mode: ["smessage", channel, payload],
// ["ssubscribe", channel, count], ["sunsubscribe", channel, count], or
// ["pong", ""]. The kind, or empty for anything else.
std::string_view kind_of(const Reply& reply) {
  if (reply.type != Reply::Type::kArray || reply.elements.empty() ||
      reply.elements[0].type != Reply::Type::kString) {
    return {};
  }
  return reply.elements[0].str;
}

}  // namespace

// All state lives on strand_. Coroutines hold a shared_ptr to the Impl and
// to the Link they serve, and stop when that link is no longer current.
class Subscriber::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::any_io_executor executor, std::vector<Endpoint> nodes, Mode mode, SubscriberCallbacks callbacks,
       SubscriberOptions options)
      : strand_(asio::make_strand(executor)),
        nodes_(std::move(nodes)),
        mode_(mode),
        options_(options),
        callbacks_(std::move(callbacks)) {}

  void subscribe(const std::string& channel) {
    if (closed_ || wanted_.contains(channel)) return;
    wanted_.emplace(channel, ChannelState{key_slot(channel), {}, false});
    channels_.store(wanted_.size(), std::memory_order_relaxed);
    route(channel);
  }

  void unsubscribe(const std::string& channel) {
    auto it = wanted_.find(channel);
    if (it == wanted_.end()) return;
    std::shared_ptr<Link> link = it->second.link.lock();
    if (it->second.confirmed) subscribed_.fetch_sub(1, std::memory_order_relaxed);
    wanted_.erase(it);
    channels_.store(wanted_.size(), std::memory_order_relaxed);
    // Sent even if the subscription is not confirmed yet: the answer to a
    // SSUBSCRIBE on the wire comes first, then this ends it.
    if (link && link->connected) send(link, Expect::kUnsubscribe, {channel});
  }

  // From any thread: no callback starts after this returns.
  void close_callbacks() {
    sync::MutexLock lock(callback_mu_);
    closed_ = true;
    callbacks_ = {};
  }

  // On the strand, after close_callbacks().
  void shutdown() {
    for (auto& [name, link] : links_) {
      close(*link);
      link->dead = true;
    }
    links_.clear();
  }

  SubscriberStats stats() const {
    SubscriberStats s;
    s.channels = channels_.load(std::memory_order_relaxed);
    s.subscribed = subscribed_.load(std::memory_order_relaxed);
    s.messages = messages_.load(std::memory_order_relaxed);
    s.subscriptions_lost = subscriptions_lost_.load(std::memory_order_relaxed);
    s.connection_losses = connection_losses_.load(std::memory_order_relaxed);
    return s;
  }

  const asio::strand<asio::any_io_executor> strand_;

 private:
  enum class Expect { kSubscribe, kUnsubscribe, kPing };
  // A command written and the replies it still owes, in order.
  struct Owed {
    Expect expect;
    std::vector<std::string> channels;  // kSubscribe, kUnsubscribe: one reply per channel
    std::size_t left = 1;               // replies still to come
  };

  // One connection to one node.
  struct Link {
    Link(const asio::strand<asio::any_io_executor>& strand, Endpoint node)
        : endpoint(std::move(node)), socket(strand), resolver(strand), retry(strand), pinger(strand) {}
    const Endpoint endpoint;
    tcp::socket socket;
    tcp::resolver resolver;
    asio::steady_timer retry;   // back-off before reconnecting
    asio::steady_timer pinger;  // the PING cadence
    bool connecting = false;
    bool connected = false;
    bool writing = false;
    bool dead = false;  // closed by shutdown
    int failures = 0;   // consecutive failed connects
    // Bumped at each connect and close: a coroutine of an earlier
    // connection sees it changed and stops, touching nothing.
    std::uint64_t generation = 0;
    Clock::time_point retry_at{};  // no connect before this (back-off)
    std::string write_buffer;
    std::deque<Owed> owed;
    Clock::time_point ping_sent{};  // time_point{} when no PING is unanswered
  };

  struct ChannelState {
    std::uint16_t slot = 0;
    std::weak_ptr<Link> link;  // where it is (being) subscribed
    bool confirmed = false;
  };

  // --- routing ---

  // The link a slot's channels go to: its known owner, else (a cluster
  // whose owner is unknown) the next node known, which answers MOVED if it
  // is not the owner.
  std::shared_ptr<Link> link_for(std::uint16_t slot) {
    if (mode_ == Mode::kNode) return link_to(nodes_.front());
    auto owner = owners_.find(slot);
    if (owner != owners_.end()) return link_to(owner->second);
    const Endpoint& guess = nodes_[next_guess_++ % nodes_.size()];
    return link_to(guess);
  }

  std::shared_ptr<Link> link_to(const Endpoint& endpoint) {
    auto& link = links_[internal::endpoint_name(endpoint)];
    if (!link) {
      link = std::make_shared<Link>(strand_, endpoint);
      if (std::none_of(nodes_.begin(), nodes_.end(), [&](const Endpoint& n) {
            return internal::endpoint_name(n) == internal::endpoint_name(endpoint);
          })) {
        nodes_.push_back(endpoint);  // a node learnt from a redirect: a guess when others fail
      }
    }
    if (!link->connected && !link->connecting && !link->dead && Clock::now() >= link->retry_at) {
      start_connect(link);
    }
    return link;
  }

  // Sends `channel`'s subscription to where its slot is served now.
  void route(const std::string& channel) {
    auto it = wanted_.find(channel);
    if (it == wanted_.end()) return;
    std::shared_ptr<Link> link = link_for(it->second.slot);
    it->second.link = link;
    if (link->connected) send(link, Expect::kSubscribe, {channel});
  }

  void set_confirmed(ChannelState& state, bool confirmed) {
    if (state.confirmed == confirmed) return;
    state.confirmed = confirmed;
    if (confirmed) {
      subscribed_.fetch_add(1, std::memory_order_relaxed);
    } else {
      subscribed_.fetch_sub(1, std::memory_order_relaxed);
      subscriptions_lost_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // Both with the channel's name, which the state does not hold.
  void confirm(const std::string& channel, ChannelState& state) {
    if (state.confirmed) return;
    set_confirmed(state, true);
    sync::MutexLock lock(callback_mu_);
    if (!closed_ && callbacks_.on_subscribed) callbacks_.on_subscribed(channel);
  }
  void unconfirm(const std::string& channel, ChannelState& state) {
    if (!state.confirmed) return;
    set_confirmed(state, false);
    sync::MutexLock lock(callback_mu_);
    if (!closed_ && callbacks_.on_lost) callbacks_.on_lost(channel);
  }

  // --- the wire ---

  void send(const std::shared_ptr<Link>& link, Expect expect, std::vector<std::string> channels) {
    Command command;
    switch (expect) {
      case Expect::kSubscribe:
        command.push_back("SSUBSCRIBE");
        break;
      case Expect::kUnsubscribe:
        command.push_back("SUNSUBSCRIBE");
        break;
      case Expect::kPing:
        command.push_back("PING");
        break;
    }
    command.insert(command.end(), channels.begin(), channels.end());
    if (!internal::append_command(command, link->write_buffer)) return;
    std::size_t left = expect == Expect::kPing ? 1 : channels.size();
    link->owed.push_back(Owed{expect, std::move(channels), left});
    if (!link->connected || link->writing) return;  // the running writer takes it along
    link->writing = true;
    asio::co_spawn(strand_, write_loop(shared_from_this(), link, link->generation), asio::detached);
  }

  void start_connect(const std::shared_ptr<Link>& link) {
    link->connecting = true;
    asio::co_spawn(strand_, connect(shared_from_this(), link), asio::detached);
  }

  static asio::awaitable<void> connect(std::shared_ptr<Impl> self, std::shared_ptr<Link> link) {
    const std::uint64_t generation = link->generation;
    auto connecting = internal::connect_to(link->socket, link->resolver, link->endpoint);
    error_code ec = co_await std::move(connecting);
    if (link->dead || link->generation != generation) co_return;
    link->connecting = false;
    if (ec) {
      self->lost(link);
      co_return;
    }
    link->connected = true;
    link->failures = 0;
    const std::uint64_t connection = ++link->generation;
    // Every channel that lives here, in as few commands as there are
    // slots (a cluster refuses channels of two slots in one SSUBSCRIBE).
    std::map<std::uint16_t, std::vector<std::string>> by_slot;
    for (auto& [channel, state] : self->wanted_) {
      if (state.link.lock() == link) by_slot[state.slot].push_back(channel);
    }
    for (auto& [slot, channels] : by_slot) {
      for (std::size_t i = 0; i < channels.size(); i += kChannelsPerCommand) {
        auto end = channels.begin() +
                   static_cast<std::ptrdiff_t>(std::min(channels.size(), i + kChannelsPerCommand));
        self->send(link, Expect::kSubscribe,
                   std::vector<std::string>(channels.begin() + static_cast<std::ptrdiff_t>(i), end));
      }
    }
    asio::co_spawn(self->strand_, read_loop(self, link, connection), asio::detached);
    asio::co_spawn(self->strand_, ping_loop(self, link, connection), asio::detached);
  }

  static asio::awaitable<void> write_loop(std::shared_ptr<Impl> self, std::shared_ptr<Link> link,
                                          std::uint64_t connection) {
    std::string out;
    while (link->generation == connection && !link->write_buffer.empty()) {
      out.clear();
      out.swap(link->write_buffer);
      auto [ec, n] = co_await asio::async_write(link->socket, asio::buffer(out), use_tuple);
      if (link->generation != connection) co_return;  // closed meanwhile: close() reset `writing`
      if (ec) {
        self->lost(link);
        co_return;
      }
    }
    link->writing = false;
  }

  static asio::awaitable<void> read_loop(std::shared_ptr<Impl> self, std::shared_ptr<Link> link,
                                         std::uint64_t connection) {
    internal::ReplyReader reader = internal::make_reply_reader();
    if (!reader) {
      self->lost(link);
      co_return;
    }
    std::array<char, 16 * 1024> buffer;
    while (true) {
      auto [ec, n] = co_await link->socket.async_read_some(asio::buffer(buffer), use_tuple);
      if (link->generation != connection) co_return;
      if (ec || redisReaderFeed(reader.get(), buffer.data(), n) != REDIS_OK) {
        self->lost(link);
        co_return;
      }
      while (true) {
        void* raw = nullptr;
        if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) {
          self->lost(link);
          co_return;
        }
        if (raw == nullptr) break;
        std::unique_ptr<redisReply, internal::ReplyDeleter> owned(static_cast<redisReply*>(raw));
        std::optional<Reply> reply = internal::convert_reply(*owned);
        if (!reply || !self->handle(link, std::move(*reply))) {
          self->lost(link);  // out of step with the node
          co_return;
        }
        if (link->generation != connection) co_return;
      }
    }
  }

  // PING every interval; one unanswered for ping_timeout means the node is
  // gone (or stalled), whatever TCP says.
  static asio::awaitable<void> ping_loop(std::shared_ptr<Impl> self, std::shared_ptr<Link> link,
                                         std::uint64_t connection) {
    while (link->generation == connection) {
      link->pinger.expires_after(self->options_.ping_interval);
      co_await link->pinger.async_wait(use_tuple);  // cancelled only by close(), seen below
      if (link->generation != connection) co_return;
      auto now = Clock::now();
      if (link->ping_sent != Clock::time_point{}) {
        if (now - link->ping_sent >= self->options_.ping_timeout) {
          self->lost(link);
          co_return;
        }
        continue;  // still waiting for the last one
      }
      link->ping_sent = now;
      self->send(link, Expect::kPing, {});
    }
  }

  // One reply or push; false if it makes no sense here.
  bool handle(const std::shared_ptr<Link>& link, Reply reply) {
    std::string_view kind = kind_of(reply);
    if (kind == "smessage" && reply.elements.size() == 3) {
      deliver_message(reply.elements[1].str, reply.elements[2].str);
      return true;
    }
    if (kind == "sunsubscribe" && reply.elements.size() == 3) {
      const std::string& channel = reply.elements[1].str;
      if (!link->owed.empty() && link->owed.front().expect == Expect::kUnsubscribe) {
        const Owed& front = link->owed.front();
        if (front.channels[front.channels.size() - front.left] == channel) return settle(*link);
      }
      // Not asked for: the node no longer serves the channel's slot.
      auto it = wanted_.find(channel);
      if (it != wanted_.end() && it->second.link.lock() == link) {
        unconfirm(channel, it->second);
        owners_.erase(it->second.slot);
        route(channel);  // asks this node again, which redirects to the new owner
      }
      return true;
    }
    if (link->owed.empty()) return false;
    Owed& front = link->owed.front();
    if (kind == "ssubscribe" && reply.elements.size() == 3 && front.expect == Expect::kSubscribe) {
      const std::string& channel = reply.elements[1].str;
      auto it = wanted_.find(channel);
      if (it != wanted_.end() && it->second.link.lock() == link) confirm(channel, it->second);
      return settle(*link);
    }
    bool pong = kind == "pong" || (reply.type == Reply::Type::kStatus && reply.str == "PONG");
    if (pong && front.expect == Expect::kPing) {
      link->ping_sent = {};
      return settle(*link);
    }
    if (reply.is_error()) {
      Owed failed = std::move(front);
      link->owed.pop_front();
      if (failed.expect == Expect::kSubscribe) subscribe_failed(link, reply, failed.channels);
      if (failed.expect == Expect::kPing) link->ping_sent = {};
      return true;
    }
    return false;
  }

  // One reply of the oldest command came; true (it always makes sense).
  static bool settle(Link& link) {
    if (--link.owed.front().left == 0) link.owed.pop_front();
    return true;
  }

  // A SSUBSCRIBE refused: MOVED names the slot's owner (subscribe there);
  // anything else (CLUSTERDOWN during a failover, TRYAGAIN) is retried
  // after a back-off.
  void subscribe_failed(const std::shared_ptr<Link>& link, const Reply& error,
                        const std::vector<std::string>& channels) {
    if (auto owner = internal::redirect_target(error, "MOVED ")) {
      for (const std::string& channel : channels) {
        auto it = wanted_.find(channel);
        if (it == wanted_.end() || it->second.link.lock() != link) continue;
        owners_[it->second.slot] = *owner;
        route(channel);
      }
      return;
    }
    auto timer = std::make_shared<asio::steady_timer>(strand_, backoff_after(link->failures++));
    timer->async_wait([self = shared_from_this(), timer, link, channels](error_code) {
      for (const std::string& channel : channels) {
        auto it = self->wanted_.find(channel);
        if (it != self->wanted_.end() && it->second.link.lock() == link && !it->second.confirmed) {
          self->owners_.erase(it->second.slot);
          self->route(channel);
        }
      }
    });
  }

  // The link failed (or never connected): its subscriptions are lost. A
  // single node is reconnected after a back-off; in a cluster the node may
  // be gone for good, so its channels are routed afresh after the back-off
  // (whoever is asked redirects to the owner, a promoted replica included).
  void lost(const std::shared_ptr<Link>& link) {
    if (link->dead) return;
    if (link->connected) connection_losses_.fetch_add(1, std::memory_order_relaxed);
    close(*link);
    for (auto& [channel, state] : wanted_) {
      if (state.link.lock() == link) unconfirm(channel, state);
    }
    auto delay = backoff_after(link->failures++);
    link->retry_at = Clock::now() + delay;
    link->retry.expires_at(link->retry_at);
    link->retry.async_wait([self = shared_from_this(), link](error_code ec) {
      if (ec || self->closed_ || link->dead) return;
      if (self->mode_ == Mode::kNode) {
        if (!link->connected && !link->connecting) self->start_connect(link);
        return;
      }
      // Forget what this node owned; whoever is asked next redirects.
      const std::string name = internal::endpoint_name(link->endpoint);
      for (auto owner = self->owners_.begin(); owner != self->owners_.end();) {
        owner =
            internal::endpoint_name(owner->second) == name ? self->owners_.erase(owner) : std::next(owner);
      }
      std::vector<std::string> here;
      for (auto& [channel, state] : self->wanted_) {
        if (state.link.lock() == link) here.push_back(channel);
      }
      // A node left with no channel stays closed until one is routed to it.
      for (const std::string& channel : here) self->route(channel);
    });
  }

  // Ends the link's connection (not the link: it may connect again).
  void close(Link& link) {
    ++link.generation;
    link.connected = false;
    link.connecting = false;
    link.writing = false;
    error_code ignored;
    link.socket.close(ignored);
    link.resolver.cancel();
    link.pinger.cancel();
    link.retry.cancel();
    link.write_buffer.clear();
    link.owed.clear();
    link.ping_sent = {};
  }

  void deliver_message(const std::string& channel, const std::string& payload) {
    if (!wanted_.contains(channel)) return;  // unsubscribed meanwhile
    messages_.fetch_add(1, std::memory_order_relaxed);
    sync::MutexLock lock(callback_mu_);
    if (!closed_ && callbacks_.on_message) callbacks_.on_message(channel, payload);
  }

  std::vector<Endpoint> nodes_;  // seeds, then nodes learnt from redirects
  const Mode mode_;
  const SubscriberOptions options_;
  std::size_t next_guess_ = 0;
  std::unordered_map<std::string, ChannelState> wanted_;
  std::unordered_map<std::uint16_t, Endpoint> owners_;            // slot -> node, as redirects taught
  std::unordered_map<std::string, std::shared_ptr<Link>> links_;  // by endpoint name

  // The destructor clears the callbacks under this lock, so none runs
  // after it returns (one running meanwhile finishes first).
  sync::Mutex callback_mu_;
  SubscriberCallbacks callbacks_ MICQ_GUARDED_BY(callback_mu_);
  std::atomic<bool> closed_{false};

  std::atomic<std::size_t> channels_{0}, subscribed_{0};
  std::atomic<std::uint64_t> messages_{0}, subscriptions_lost_{0}, connection_losses_{0};
};

Subscriber::Subscriber(asio::any_io_executor executor, std::vector<Endpoint> nodes, Mode mode,
                       SubscriberCallbacks callbacks, SubscriberOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(nodes), mode, std::move(callbacks),
                                   options)) {}

Subscriber::~Subscriber() {
  auto impl = impl_;
  impl->close_callbacks();
  asio::post(impl->strand_, [impl] { impl->shutdown(); });
}

void Subscriber::subscribe(std::string channel) {
  asio::post(impl_->strand_, [impl = impl_, channel = std::move(channel)] { impl->subscribe(channel); });
}

void Subscriber::unsubscribe(std::string channel) {
  asio::post(impl_->strand_, [impl = impl_, channel = std::move(channel)] { impl->unsubscribe(channel); });
}

SubscriberStats Subscriber::stats() const { return impl_->stats(); }

}  // namespace micq::redis
