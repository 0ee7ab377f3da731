#include "micq/redis/client.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <deque>
#include <optional>
#include <unordered_map>
#include <utility>

#include "micq/redis/internal/reply_conversion.h"
#include "micq/redis/internal/wire.h"

namespace micq::redis {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

class ErrorCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "micq.redis"; }
  std::string message(int ev) const override {
    switch (static_cast<Error>(ev)) {
      case Error::kUnavailable:
        return "redis unavailable (cannot connect, or backing off after a failure)";
      case Error::kTimeout:
        return "redis call deadline exceeded";
      case Error::kConnectionLost:
        return "redis connection lost with the call pending";
      case Error::kProtocol:
        return "redis reply could not be decoded";
    }
    return "unknown redis error";
  }
};

// now + deadline, saturating: a caller may pass milliseconds::max() for "no
// deadline" without overflowing the clock.
Clock::time_point expiry_after(std::chrono::milliseconds deadline) {
  auto now = Clock::now();
  auto room = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - now);
  return deadline >= room ? Clock::time_point::max() : now + deadline;
}

}  // namespace

const boost::system::error_category& error_category() {
  static const ErrorCategory category;
  return category;
}

error_code make_error_code(Error e) { return error_code(static_cast<int>(e), error_category()); }

boost::system::result<Endpoint, std::string> parse_endpoint(std::string_view text) {
  auto fail = [&](std::string_view why) {
    return boost::system::result<Endpoint, std::string>(boost::system::in_place_error,
                                                        std::string(why) + std::string(text));
  };
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return fail("expected host:port, got ");
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  // "[::1]:6379": the brackets only delimit an IPv6 address.
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return fail("no host in ");
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return fail("bad port in ");
  }
  return Endpoint{std::string(host), static_cast<std::uint16_t>(port)};
}

// All mutable state is touched only on strand_. The coroutines that use it
// (callers, connect, reader, writer) hold a shared_ptr, so the state outlives
// the RedisClient while any of them is suspended.
class RedisClient::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::any_io_executor&& executor, Endpoint endpoint)
      : endpoint_(std::move(endpoint)), strand_(asio::make_strand(executor)) {}

  // One round trip for `commands` (already on strand_).
  static asio::awaitable<boost::system::result<std::vector<Reply>>> call(std::shared_ptr<Impl> self,
                                                                         std::vector<Command> commands,
                                                                         Clock::time_point expiry);

  static asio::awaitable<boost::system::result<Reply>> call_one(std::shared_ptr<Impl> self, Command command,
                                                                Clock::time_point expiry);

  // EVALSHA (loading the script on NOSCRIPT), then `after` on the same
  // connection; the script's reply first. A failed script load is its
  // error reply alone.
  static asio::awaitable<boost::system::result<std::vector<Reply>>> eval(
      std::shared_ptr<Impl> self, std::string script, std::vector<std::string> keys,
      std::vector<std::string> args, std::vector<Command> after, Clock::time_point expiry);

  // The RedisClient is gone: fail what is pending, close the socket, accept
  // no more calls.
  void shutdown() {
    closed_ = true;
    if (conn_) reset(make_error_code(Error::kConnectionLost));
  }

  const Endpoint endpoint_;
  const asio::strand<asio::any_io_executor> strand_;

 private:
  // One TCP connection (or attempt). Coroutines keep the one they work on and
  // stop when it is no longer conn_: a reset never leaves a stale coroutine
  // acting on the next connection.
  struct Connection {
    explicit Connection(const asio::strand<asio::any_io_executor>& strand)
        : socket(strand), resolver(strand) {}
    tcp::socket socket;
    tcp::resolver resolver;
    bool connected = false;
    bool writing = false;  // a write_loop is running
  };

  // One caller waiting for `expected` replies. `event` is a timer set to the
  // caller's deadline; cancelling it is how the reader (or a reset) wakes
  // the caller early.
  struct Pending {
    Pending(const asio::strand<asio::any_io_executor>& strand, Clock::time_point expiry, std::size_t expected)
        : event(strand, expiry), expected(expected) {}
    asio::steady_timer event;
    std::size_t expected;
    std::vector<Reply> replies;
    error_code error;
    bool done = false;
  };

  static asio::awaitable<void> connect(std::shared_ptr<Impl> self, std::shared_ptr<Connection> conn);
  static asio::awaitable<void> read_loop(std::shared_ptr<Impl> self, std::shared_ptr<Connection> conn);
  static asio::awaitable<void> write_loop(std::shared_ptr<Impl> self, std::shared_ptr<Connection> conn);
  static asio::awaitable<boost::system::result<Reply>> load_script(std::shared_ptr<Impl> self,
                                                                   const std::string& script,
                                                                   Clock::time_point expiry);

  void start_connect() {
    conn_ = std::make_shared<Connection>(strand_);
    asio::co_spawn(strand_, connect(shared_from_this(), conn_), asio::detached);
  }

  // Starts the writer unless one runs already (it picks up what was
  // appended meanwhile: one async_write in flight at a time).
  void flush() {
    if (!conn_ || !conn_->connected || conn_->writing || write_buffer_.empty()) return;
    conn_->writing = true;
    asio::co_spawn(strand_, write_loop(shared_from_this(), conn_), asio::detached);
  }

  void complete(Pending& pending, error_code ec) {
    if (pending.done) return;
    pending.error = ec;
    pending.done = true;
    pending.event.cancel();
  }

  // Drops the connection: every pending caller fails with `ec`, and calls
  // during the back-off window that starts now fail at once.
  void reset(error_code ec) {
    if (conn_) {
      error_code ignored;
      conn_->socket.close(ignored);
      conn_->resolver.cancel();
      conn_.reset();
    }
    write_buffer_.clear();
    auto failed = std::move(pending_);
    pending_.clear();
    for (auto& pending : failed) complete(*pending, ec);
    // Calls in the back-off window fail at once instead of queueing behind
    // a Redis that is not there.
    backoff_until_ = Clock::now() + internal::backoff_after(failures_);
    ++failures_;
  }

  // Hands one decoded reply to the oldest pending caller; false if it cannot
  // be (no caller waits for it, or hiredis produced an unknown type).
  bool deliver(const redisReply& raw) {
    if (pending_.empty()) return false;
    Pending& front = *pending_.front();
    std::optional<Reply> reply = internal::convert_reply(raw);
    if (!reply) {
      complete(front, make_error_code(Error::kProtocol));
      return false;
    }
    front.replies.push_back(std::move(*reply));
    if (front.replies.size() == front.expected) {
      complete(front, error_code());
      pending_.pop_front();
    }
    return true;
  }

  std::shared_ptr<Connection> conn_;              // null: disconnected
  std::deque<std::shared_ptr<Pending>> pending_;  // FIFO, in the order written
  std::string write_buffer_;                      // encoded, not yet handed to async_write
  Clock::time_point backoff_until_{};
  int failures_ = 0;  // consecutive; reset by a successful connect
  bool closed_ = false;
  std::unordered_map<std::string, std::string> script_shas_;  // script -> SHA1 from SCRIPT LOAD
};

asio::awaitable<boost::system::result<std::vector<Reply>>> RedisClient::Impl::call(
    std::shared_ptr<Impl> self, std::vector<Command> commands, Clock::time_point expiry) {
  std::vector<Reply> replies;
  if (commands.empty()) co_return replies;
  if (self->closed_) co_return make_error_code(Error::kConnectionLost);
  auto now = Clock::now();
  // Already late: fail this call alone rather than reset the connection.
  if (now >= expiry) co_return make_error_code(Error::kTimeout);
  if (!self->conn_ && now < self->backoff_until_) co_return make_error_code(Error::kUnavailable);

  // An empty command would get no answer at all from Redis (breaking the
  // FIFO matching), so it is answered here with an error reply instead.
  std::size_t expected = 0;
  const std::size_t buffer_before = self->write_buffer_.size();
  for (const auto& command : commands) {
    if (command.empty()) continue;
    if (!internal::append_command(command, self->write_buffer_)) {
      self->write_buffer_.resize(buffer_before);
      co_return make_error_code(Error::kProtocol);
    }
    ++expected;
  }
  if (expected > 0) {
    if (!self->conn_) self->start_connect();
    auto pending = std::make_shared<Pending>(self->strand_, expiry, expected);
    self->pending_.push_back(pending);
    self->flush();
    // `done` is set only on the strand, so it cannot change between this
    // check and the start of the wait.
    while (!pending->done) {
      auto [ec] = co_await pending->event.async_wait(use_tuple);
      if (pending->done) break;
      if (!ec) {
        // Deadline. Replies are matched by position, so this caller's slot
        // cannot be skipped: drop the connection (the others fail with
        // kConnectionLost) rather than let callers pile up behind it.
        self->reset(make_error_code(Error::kConnectionLost));
        pending->error = make_error_code(Error::kTimeout);
        break;
      }
    }
    if (pending->error) co_return pending->error;
    replies = std::move(pending->replies);
  }
  if (expected == commands.size()) co_return replies;
  std::vector<Reply> merged;
  merged.reserve(commands.size());
  auto next = replies.begin();
  for (const auto& command : commands) {
    if (command.empty()) {
      Reply error;
      error.type = Reply::Type::kError;
      error.str = "ERR empty command";
      merged.push_back(std::move(error));
    } else {
      merged.push_back(std::move(*next++));
    }
  }
  co_return merged;
}

asio::awaitable<boost::system::result<Reply>> RedisClient::Impl::call_one(std::shared_ptr<Impl> self,
                                                                          Command command,
                                                                          Clock::time_point expiry) {
  std::vector<Command> commands;
  commands.push_back(std::move(command));
  auto op = call(std::move(self), std::move(commands), expiry);
  auto replies = co_await std::move(op);
  if (!replies) co_return replies.error();
  co_return std::move(replies->front());
}

asio::awaitable<void> RedisClient::Impl::connect(std::shared_ptr<Impl> self,
                                                 std::shared_ptr<Connection> conn) {
  // No deadline of its own: a caller whose deadline passes resets the
  // connection, which closes the socket and cancels the resolver.
  auto connecting = internal::connect_to(conn->socket, conn->resolver, self->endpoint_);
  error_code ec = co_await std::move(connecting);
  if (conn != self->conn_) co_return;  // reset meanwhile: its callers have been failed
  if (ec) {
    self->reset(make_error_code(Error::kUnavailable));
    co_return;
  }
  conn->connected = true;
  self->failures_ = 0;
  asio::co_spawn(self->strand_, read_loop(self, conn), asio::detached);
  self->flush();
}

asio::awaitable<void> RedisClient::Impl::read_loop(std::shared_ptr<Impl> self,
                                                   std::shared_ptr<Connection> conn) {
  internal::ReplyReader reader = internal::make_reply_reader();
  if (!reader) {
    if (conn == self->conn_) self->reset(make_error_code(Error::kProtocol));
    co_return;
  }
  constexpr std::size_t kReadSize = std::size_t{16} * 1024;
  std::array<char, kReadSize> buffer;
  while (true) {
    auto [ec, n] = co_await conn->socket.async_read_some(asio::buffer(buffer), use_tuple);
    if (conn != self->conn_) co_return;
    if (ec) {
      self->reset(make_error_code(Error::kConnectionLost));
      co_return;
    }
    if (redisReaderFeed(reader.get(), buffer.data(), n) != REDIS_OK) {
      if (!self->pending_.empty()) self->complete(*self->pending_.front(), make_error_code(Error::kProtocol));
      self->reset(make_error_code(Error::kConnectionLost));
      co_return;
    }
    while (true) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) {
        if (!self->pending_.empty())
          self->complete(*self->pending_.front(), make_error_code(Error::kProtocol));
        self->reset(make_error_code(Error::kConnectionLost));
        co_return;
      }
      if (raw == nullptr) break;  // needs more bytes
      std::unique_ptr<redisReply, internal::ReplyDeleter> reply(static_cast<redisReply*>(raw));
      if (!self->deliver(*reply)) {
        // A reply nobody asked for: the stream is out of step.
        self->reset(make_error_code(Error::kConnectionLost));
        co_return;
      }
    }
  }
}

asio::awaitable<void> RedisClient::Impl::write_loop(std::shared_ptr<Impl> self,
                                                    std::shared_ptr<Connection> conn) {
  // Swapping buffers: callers keep appending to write_buffer_ while `out`
  // is on the wire, and the next write sends all of it at once.
  std::string out;
  while (conn == self->conn_ && !self->write_buffer_.empty()) {
    out.clear();
    out.swap(self->write_buffer_);
    auto [ec, n] = co_await asio::async_write(conn->socket, asio::buffer(out), use_tuple);
    if (conn != self->conn_) co_return;
    if (ec) {
      self->reset(make_error_code(Error::kConnectionLost));
      co_return;
    }
  }
  conn->writing = false;
}

asio::awaitable<boost::system::result<Reply>> RedisClient::Impl::load_script(std::shared_ptr<Impl> self,
                                                                             const std::string& script,
                                                                             Clock::time_point expiry) {
  std::vector<Command> commands;
  commands.push_back(Command{"SCRIPT", "LOAD", script});
  auto op = call(self, std::move(commands), expiry);
  auto replies = co_await std::move(op);
  if (!replies) co_return replies.error();
  Reply reply = std::move(replies->front());
  if (reply.type == Reply::Type::kString) {
    self->script_shas_[script] = reply.str;
  } else if (!reply.is_error()) {
    co_return make_error_code(Error::kProtocol);
  }
  co_return reply;
}

asio::awaitable<boost::system::result<std::vector<Reply>>> RedisClient::Impl::eval(
    std::shared_ptr<Impl> self, std::string script, std::vector<std::string> keys,
    std::vector<std::string> args, std::vector<Command> after, Clock::time_point expiry) {
  if (!self->script_shas_.contains(script)) {
    auto op = load_script(self, script, expiry);
    auto loaded = co_await std::move(op);
    if (!loaded) co_return loaded.error();
    if (loaded->is_error()) co_return std::vector<Reply>{std::move(*loaded)};
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    Command evalsha;
    evalsha.reserve(3 + keys.size() + args.size());
    evalsha.push_back("EVALSHA");
    evalsha.push_back(self->script_shas_[script]);
    evalsha.push_back(std::to_string(keys.size()));
    evalsha.insert(evalsha.end(), keys.begin(), keys.end());
    evalsha.insert(evalsha.end(), args.begin(), args.end());
    // `after` goes in the same write: on this connection, right after the
    // script (what WAIT needs: it counts this connection's writes).
    std::vector<Command> commands;
    commands.push_back(std::move(evalsha));
    commands.insert(commands.end(), after.begin(), after.end());
    auto op = call(self, std::move(commands), expiry);
    auto replies = co_await std::move(op);
    if (!replies) co_return replies.error();
    const Reply& reply = replies->front();
    // NOSCRIPT: Redis lost its script cache (restart, SCRIPT FLUSH). Load
    // it again and retry once.
    bool noscript = reply.is_error() && reply.str.starts_with("NOSCRIPT");
    if (!noscript || attempt > 0) co_return replies;
    auto reload_op = load_script(self, script, expiry);
    auto reloaded = co_await std::move(reload_op);
    if (!reloaded) co_return reloaded.error();
    if (reloaded->is_error()) co_return std::vector<Reply>{std::move(*reloaded)};
  }
  co_return make_error_code(Error::kProtocol);  // not reached
}

RedisClient::RedisClient(asio::any_io_executor executor, Endpoint endpoint)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(endpoint))) {}

RedisClient::~RedisClient() {
  // Pending calls hold the Impl; closing on the strand fails them with
  // kConnectionLost. If the executor never runs again they are abandoned
  // and freed with it.
  auto impl = impl_;
  asio::post(impl->strand_, [impl] { impl->shutdown(); });
}

// The public calls are plain functions, not coroutines: they copy their
// arguments into the internal coroutine at once (eval's `script` reference
// need not outlive the call) and never touch `this` afterwards, so the
// RedisClient may go while the returned awaitable is pending. The deadline
// counts from the call.
asio::awaitable<boost::system::result<std::vector<Reply>>> RedisClient::pipeline(
    std::vector<Command> commands, std::chrono::milliseconds deadline) {
  auto inner = Impl::call(impl_, std::move(commands), expiry_after(deadline));
  return asio::co_spawn(impl_->strand_, std::move(inner), asio::use_awaitable);
}

asio::awaitable<boost::system::result<Reply>> RedisClient::command(Command command,
                                                                   std::chrono::milliseconds deadline) {
  auto inner = Impl::call_one(impl_, std::move(command), expiry_after(deadline));
  return asio::co_spawn(impl_->strand_, std::move(inner), asio::use_awaitable);
}

namespace {

asio::awaitable<boost::system::result<Reply>> first_reply(
    asio::awaitable<boost::system::result<std::vector<Reply>>> replies_of) {
  auto replies = co_await std::move(replies_of);
  if (!replies) co_return replies.error();
  co_return std::move(replies->front());
}

Command wait_command(int replicas, std::chrono::milliseconds wait) {
  return {"WAIT", std::to_string(replicas), std::to_string(std::max<long long>(1, wait.count()))};
}

asio::awaitable<boost::system::result<Replicated>> replicated_reply(
    asio::awaitable<boost::system::result<std::vector<Reply>>> replies_of) {
  auto replies = co_await std::move(replies_of);
  if (!replies) co_return replies.error();
  Replicated out;
  out.reply = std::move(replies->front());
  // A failed script load answers alone: nothing ran, nothing to replicate.
  if (replies->size() == 2 && (*replies)[1].type == Reply::Type::kInteger)
    out.replicas = (*replies)[1].integer;
  co_return out;
}

}  // namespace

asio::awaitable<boost::system::result<Reply>> RedisClient::eval(const std::string& script,
                                                                std::vector<std::string> keys,
                                                                std::vector<std::string> args,
                                                                std::chrono::milliseconds deadline) {
  auto inner = Impl::eval(impl_, script, std::move(keys), std::move(args), {}, expiry_after(deadline));
  return first_reply(asio::co_spawn(impl_->strand_, std::move(inner), asio::use_awaitable));
}

asio::awaitable<boost::system::result<Replicated>> RedisClient::eval_replicated(
    const std::string& script, std::vector<std::string> keys, std::vector<std::string> args, int replicas,
    std::chrono::milliseconds wait, std::chrono::milliseconds deadline) {
  std::vector<Command> after;
  after.push_back(wait_command(replicas, wait));
  auto inner =
      Impl::eval(impl_, script, std::move(keys), std::move(args), std::move(after), expiry_after(deadline));
  return replicated_reply(asio::co_spawn(impl_->strand_, std::move(inner), asio::use_awaitable));
}

const Endpoint& RedisClient::endpoint() const { return impl_->endpoint_; }

}  // namespace micq::redis
