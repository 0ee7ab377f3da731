#include "micq/redis/cluster.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <optional>
#include <unordered_map>

#include "micq/redis/client.h"
#include "micq/redis/internal/wire.h"
#include "micq/sync/mutex.h"

namespace micq::redis {

namespace asio = boost::asio;
using internal::endpoint_name;
using internal::redirect_target;

namespace {

constexpr std::size_t kSlots = kClusterSlots;

std::uint16_t crc16_xmodem(std::string_view data) {
  std::uint16_t crc = 0;
  for (unsigned char byte : data) {
    crc ^= static_cast<std::uint16_t>(byte) << 8;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<std::uint16_t>(crc << 1);
    }
  }
  return crc;
}

// Functions, so a co_await expression may take their lists: g++ 12 rejects
// a braced list inside one (PR 103871, docs/design.md).
Command asking_command() { return {"ASKING"}; }
Command cluster_slots_command() { return {"CLUSTER", "SLOTS"}; }

// ASKING admits only the one command after it, on its connection. So an
// asked call goes as one pipeline (contiguous on the wire) with ASKING
// before each command, and a script as EVAL (an EVALSHA that met NOSCRIPT
// would be retried without its ASKING).
std::vector<Command> with_asking(const std::vector<Command>& commands) {
  std::vector<Command> asked;
  asked.reserve(commands.size() * 2);
  for (const Command& command : commands) {
    asked.push_back(asking_command());
    asked.push_back(command);
  }
  return asked;
}
std::vector<Reply> without_asking(std::vector<Reply> replies) {
  std::vector<Reply> answers;
  for (std::size_t i = 1; i < replies.size(); i += 2) answers.push_back(std::move(replies[i]));
  return answers;
}
Command eval_command(const std::string& script, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args) {
  Command command{"EVAL", script, std::to_string(keys.size())};
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  return command;
}

std::vector<Command> subset(const std::vector<Command>& commands, const std::vector<std::size_t>& indices) {
  std::vector<Command> picked;
  picked.reserve(indices.size());
  for (std::size_t i : indices) picked.push_back(commands[i]);
  return picked;
}

// A pipeline call: its commands are kept so an ASK can resend some of them.
struct PipelineCall {
  std::vector<Command> commands;
  asio::awaitable<boost::system::result<std::vector<Reply>>> operator()(
      RedisClient& node, bool asking, std::chrono::milliseconds deadline) const;
};

// What is left of a call's deadline (at least 1 ms: a zero deadline would
// fail before sending, and the caller checks expiry itself).
std::chrono::milliseconds left_until(std::chrono::steady_clock::time_point expiry) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(expiry - std::chrono::steady_clock::now());
  return std::max(left, std::chrono::milliseconds(1));
}

// `commands` on `node`, each admitted by ASKING; the ASKING replies dropped.
// (`node` is used before the first suspension only: RedisClient copies its
// arguments when called.)
asio::awaitable<boost::system::result<std::vector<Reply>>> asked_pipeline(
    RedisClient& node, std::vector<Command> commands, std::chrono::milliseconds deadline) {
  auto call = node.pipeline(with_asking(commands), deadline);
  auto replies = co_await std::move(call);
  if (!replies) co_return replies;
  co_return without_asking(std::move(*replies));
}
asio::awaitable<boost::system::result<std::vector<Reply>>> PipelineCall::operator()(
    RedisClient& node, bool asking, std::chrono::milliseconds deadline) const {
  return asking ? asked_pipeline(node, commands, deadline) : node.pipeline(commands, deadline);
}

asio::awaitable<boost::system::result<Reply>> asked_command(RedisClient& node, Command command,
                                                            std::chrono::milliseconds deadline) {
  std::vector<Command> one;
  one.push_back(std::move(command));
  auto call = asked_pipeline(node, std::move(one), deadline);
  auto replies = co_await std::move(call);
  if (!replies) co_return replies.error();
  if (replies->size() != 1) co_return boost::system::error_code(Error::kProtocol);
  co_return std::move(replies->front());
}

}  // namespace

std::uint16_t key_slot(std::string_view key) {
  auto open = key.find('{');
  if (open != std::string_view::npos) {
    auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) key = key.substr(open + 1, close - open - 1);
  }
  return static_cast<std::uint16_t>(crc16_xmodem(key) % kSlots);
}

boost::system::result<std::vector<Endpoint>, std::string> parse_seeds(std::string_view text) {
  using Result = boost::system::result<std::vector<Endpoint>, std::string>;
  std::vector<Endpoint> seeds;
  while (true) {
    auto comma = text.find(',');
    auto endpoint = parse_endpoint(text.substr(0, comma));
    if (!endpoint) return Result(boost::system::in_place_error, endpoint.error());
    seeds.push_back(*endpoint);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return seeds;
}

class RedisCluster::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::any_io_executor executor, std::vector<Endpoint> seeds)
      : executor_(std::move(executor)), seeds_(std::move(seeds)) {}

  // Sends `commands` to the owner of `slot`, following MOVED (refreshing
  // the map) and ASK (once, with ASKING). `run(node, asking, deadline)`
  // issues the call on a node, each command admitted by ASKING when
  // `asking`. Every step gets what is left of the one deadline.
  // (A coroutine: `run` is copied into its frame; the caller's Impl
  // reference is kept by `self`.)
  template <class Result, class Run>
  asio::awaitable<Result> routed(std::uint16_t slot, std::chrono::milliseconds deadline, Run run) {
    std::shared_ptr<Impl> self = shared_from_this();
    const auto expiry = std::chrono::steady_clock::now() + deadline;
    for (int attempt = 0; attempt < 4; ++attempt) {
      if (std::chrono::steady_clock::now() >= expiry)
        co_return Result(boost::system::error_code(Error::kTimeout));
      std::shared_ptr<RedisClient> node = node_for(slot);
      if (!node) {
        auto refresh = refresh_map(expiry);
        co_await std::move(refresh);
        node = node_for(slot);
        if (!node) node = client_for(seeds_[static_cast<std::size_t>(attempt) % seeds_.size()]);
      }
      auto call = run(*node, false, left_until(expiry));
      Result result = co_await std::move(call);
      if (!result) {
        // The node is unreachable or went away: a replica may own its slots
        // now (a failover), so learn the map again from the other nodes. A
        // call that never left (kUnavailable) is tried again where the
        // slot is now; one that may have run (a lost connection) is not,
        // but the next call goes to the new owner.
        bool unavailable = result.error() == boost::system::error_code(Error::kUnavailable);
        if (unavailable || result.error() == boost::system::error_code(Error::kConnectionLost)) {
          auto refresh = refresh_after_failure(node->endpoint(), expiry);
          co_await std::move(refresh);
          if (unavailable && node_for(slot) != node) continue;
        }
        co_return result;
      }
      const Reply* redirect = first_error(*result);
      if (!redirect) co_return result;
      if (auto moved = redirect_target(*redirect, "MOVED ")) {
        set_owner(slot, *moved);
        continue;
      }
      if (auto ask = redirect_target(*redirect, "ASK ")) {
        // One-off redirect during resharding (the slot's owner does not
        // change): again, there, with ASKING.
        auto asking_node = client_for(*ask);
        if constexpr (requires { run.commands; }) {
          // Keys move one at a time: only the commands told ASK go again;
          // the others' answers (from keys not moved yet) stand.
          std::vector<std::size_t> asked;
          for (std::size_t i = 0; i < result->size(); ++i)
            if (redirect_target((*result)[i], "ASK ")) asked.push_back(i);
          auto again = asked_pipeline(*asking_node, subset(run.commands, asked), left_until(expiry));
          auto replies = co_await std::move(again);
          if (!replies) co_return replies;
          if (replies->size() != asked.size()) co_return Result(boost::system::error_code(Error::kProtocol));
          for (std::size_t k = 0; k < asked.size(); ++k) (*result)[asked[k]] = std::move((*replies)[k]);
          co_return result;
        } else {
          auto again = run(*asking_node, true, left_until(expiry));
          co_return co_await std::move(again);
        }
      }
      co_return result;
    }
    co_return Result(boost::system::error_code(Error::kUnavailable));
  }

  // After a node failed: the map again from any other node known, at most
  // once per kRefreshGap (every call to a dead node's slots fails, and
  // they must not each ask every node).
  asio::awaitable<void> refresh_after_failure(Endpoint failed, std::chrono::steady_clock::time_point expiry) {
    auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    auto last = last_failure_refresh_.load(std::memory_order_relaxed);
    if (now - last < std::chrono::steady_clock::duration(kRefreshGap).count() ||
        !last_failure_refresh_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
      co_return;
    }
    auto refreshing = refresh_map(expiry, endpoint_name(failed));
    co_await std::move(refreshing);
  }

  // The slot map from CLUSTER SLOTS of the first node that answers: the
  // seeds, then every node learnt since (but `skip`).
  asio::awaitable<void> refresh_map(std::chrono::steady_clock::time_point expiry, std::string skip = {}) {
    std::vector<Endpoint> candidates = seeds_;
    {
      sync::ReaderLock lock(mu_);
      // Not a structured binding: clang 14 cannot capture one in the lambda.
      for (const auto& known : endpoints_) {
        const std::string& name = known.first;
        bool seed = std::any_of(seeds_.begin(), seeds_.end(),
                                [&](const Endpoint& s) { return endpoint_name(s) == name; });
        if (!seed) candidates.push_back(known.second);
      }
    }
    std::erase_if(candidates, [&](const Endpoint& e) { return !skip.empty() && endpoint_name(e) == skip; });
    for (const Endpoint& seed : candidates) {
      if (std::chrono::steady_clock::now() >= expiry) co_return;
      auto node = client_for(seed);
      auto call = node->command(cluster_slots_command(), left_until(expiry));
      auto reply = co_await std::move(call);
      if (!reply || reply->type != Reply::Type::kArray) continue;
      sync::WriterLock lock(mu_);
      for (const Reply& range : reply->elements) {
        if (range.elements.size() < 3 || range.elements[2].elements.size() < 2) continue;
        Endpoint owner{range.elements[2].elements[0].str,
                       static_cast<std::uint16_t>(range.elements[2].elements[1].integer)};
        std::string name = endpoint_name(owner);
        for (std::int64_t s = range.elements[0].integer;
             s <= range.elements[1].integer && s < static_cast<std::int64_t>(kSlots); ++s) {
          owners_[static_cast<std::size_t>(s)] = name;
        }
        endpoints_.emplace(name, owner);
        // The replicas too: whom to ask for the map when a master is gone.
        for (std::size_t r = 3; r < range.elements.size(); ++r) {
          const Reply& replica = range.elements[r];
          if (replica.elements.size() < 2) continue;
          Endpoint at{replica.elements[0].str, static_cast<std::uint16_t>(replica.elements[1].integer)};
          endpoints_.emplace(endpoint_name(at), at);
        }
      }
      co_return;
    }
  }

  std::shared_ptr<RedisClient> node_for(std::uint16_t slot) {
    std::string name;
    {
      sync::ReaderLock lock(mu_);
      name = owners_[slot];
      if (name.empty()) return nullptr;
    }
    Endpoint endpoint;
    {
      sync::ReaderLock lock(mu_);
      endpoint = endpoints_.at(name);
    }
    return client_for(endpoint);
  }

  std::shared_ptr<RedisClient> client_for(const Endpoint& endpoint) {
    std::string name = endpoint_name(endpoint);
    sync::WriterLock lock(mu_);
    auto& client = clients_[name];
    if (!client) client = std::make_shared<RedisClient>(executor_, endpoint);
    endpoints_.emplace(name, endpoint);
    return client;
  }

  void set_owner(std::uint16_t slot, const Endpoint& endpoint) {
    sync::WriterLock lock(mu_);
    owners_[slot] = endpoint_name(endpoint);
    endpoints_.emplace(owners_[slot], endpoint);
  }

  static const Reply* first_error(const Reply& reply) { return reply.is_error() ? &reply : nullptr; }
  static const Reply* first_error(const Replicated& replicated) { return first_error(replicated.reply); }
  static const Reply* first_error(const std::vector<Reply>& replies) {
    for (const Reply& reply : replies) {
      if (reply.is_error()) return &reply;
    }
    return nullptr;
  }

  const asio::any_io_executor executor_;
  const std::vector<Endpoint> seeds_;

 private:
  static constexpr std::chrono::milliseconds kRefreshGap{100};
  std::atomic<std::chrono::steady_clock::rep> last_failure_refresh_{0};
  sync::SharedMutex mu_;
  std::array<std::string, kSlots> owners_ MICQ_GUARDED_BY(mu_);  // slot -> node name
  std::unordered_map<std::string, Endpoint> endpoints_ MICQ_GUARDED_BY(mu_);
  std::unordered_map<std::string, std::shared_ptr<RedisClient>> clients_ MICQ_GUARDED_BY(mu_);
};

RedisCluster::RedisCluster(asio::any_io_executor executor, std::vector<Endpoint> seeds)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(seeds))) {}
RedisCluster::~RedisCluster() = default;

namespace {
std::uint16_t slot_of(const Command& command) { return command.size() > 1 ? key_slot(command[1]) : 0; }
}  // namespace

// The public calls copy their arguments now and return the routed
// coroutine: nothing refers to the caller's temporaries once it returns.
asio::awaitable<boost::system::result<std::vector<Reply>>> RedisCluster::pipeline(
    std::vector<Command> commands, std::chrono::milliseconds deadline) {
  std::uint16_t slot = commands.empty() ? 0 : slot_of(commands.front());
  PipelineCall run{std::move(commands)};
  return impl_->routed<boost::system::result<std::vector<Reply>>>(slot, deadline, std::move(run));
}

asio::awaitable<boost::system::result<Reply>> RedisCluster::command(Command command,
                                                                    std::chrono::milliseconds deadline) {
  std::uint16_t slot = slot_of(command);
  auto run = [command = std::move(command)](RedisClient& node, bool asking, std::chrono::milliseconds left) {
    return asking ? asked_command(node, command, left) : node.command(command, left);
  };
  return impl_->routed<boost::system::result<Reply>>(slot, deadline, std::move(run));
}

asio::awaitable<boost::system::result<Reply>> RedisCluster::eval(const std::string& script,
                                                                 std::vector<std::string> keys,
                                                                 std::vector<std::string> args,
                                                                 std::chrono::milliseconds deadline) {
  std::uint16_t slot = keys.empty() ? 0 : key_slot(keys.front());
  auto run = [script = std::string(script), keys = std::move(keys), args = std::move(args)](
                 RedisClient& node, bool asking, std::chrono::milliseconds left) {
    return asking ? asked_command(node, eval_command(script, keys, args), left)
                  : node.eval(script, keys, args, left);
  };
  return impl_->routed<boost::system::result<Reply>>(slot, deadline, std::move(run));
}

namespace {
asio::awaitable<boost::system::result<Replicated>> unknown_replicas(
    asio::awaitable<boost::system::result<Reply>> reply_of) {
  auto reply = co_await std::move(reply_of);
  if (!reply) co_return reply.error();
  co_return Replicated{std::move(*reply), -1};
}
}  // namespace

asio::awaitable<boost::system::result<Replicated>> RedisCluster::eval_replicated(
    const std::string& script, std::vector<std::string> keys, std::vector<std::string> args, int replicas,
    std::chrono::milliseconds wait, std::chrono::milliseconds deadline) {
  std::uint16_t slot = keys.empty() ? 0 : key_slot(keys.front());
  auto run = [script = std::string(script), keys = std::move(keys), args = std::move(args), replicas, wait](
                 RedisClient& node, bool asking, std::chrono::milliseconds left) {
    return asking ? unknown_replicas(asked_command(node, eval_command(script, keys, args), left))
                  : node.eval_replicated(script, keys, args, replicas, wait, left);
  };
  return impl_->routed<boost::system::result<Replicated>>(slot, deadline, std::move(run));
}

}  // namespace micq::redis
