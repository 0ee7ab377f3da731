// Subscriber: sharded pub/sub (SSUBSCRIBE, Redis 7) on one Redis node or a
// Redis Cluster, kept subscribed through everything that breaks a
// subscription. hiredis is the codec, as for every Redis call.
//
//  * A channel belongs to a hash slot as a key does; in a cluster it is
//    subscribed on the node owning that slot, over one connection per node.
//    The owner is learnt from the MOVED answer of the node first asked.
//  * Subscriptions are kept: after a lost connection (reconnecting with
//    back-off, 50 ms doubling to 2 s), after the slot moved (Redis ends the
//    subscription with a `sunsubscribe` push; the node asked again answers
//    MOVED), after a node failed (its channels go to the other nodes known,
//    which redirect to the new owner). A connection that stops answering
//    PING for `ping_timeout` is dropped as lost: a stalled Redis cannot keep
//    a subscription looking alive.
//  * What is subscribed now, and how often it was lost, is in stats(): a
//    lost subscription is visible (micq serve shows it in /metrics and
//    /readyz), and messages published meanwhile are gone, so a user of the
//    subscriber must bound staleness some other way (micq: the TTL).
//
// Example:
//   Subscriber subscriber(executor, {seed}, Subscriber::Mode::kCluster,
//                         {.on_message = [](const std::string& channel, const std::string& payload) {...}});
//   subscriber.subscribe("micq:{r1}:changed");
//
// Thread safety: every member may be called from any thread. Callbacks run
// on the subscriber's own strand, one at a time, and must not block.
#ifndef MICQ_REDIS_SUBSCRIBER_H_
#define MICQ_REDIS_SUBSCRIBER_H_

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "micq/redis/reply.h"

namespace micq::redis {

struct SubscriberCallbacks {
  // A message published on a subscribed channel.
  std::function<void(const std::string& channel, const std::string& payload)> on_message;
  // Redis confirmed the channel's subscription (again, after each loss):
  // from now on its messages arrive.
  std::function<void(const std::string& channel)> on_subscribed;
  // The channel's subscription ended (connection lost, slot moved): what is
  // published until the next on_subscribed is not delivered.
  std::function<void(const std::string& channel)> on_lost;
};

struct SubscriberOptions {
  std::chrono::milliseconds ping_interval{1000};
  std::chrono::milliseconds ping_timeout{3000};  // unanswered this long: the connection is lost
};

struct SubscriberStats {
  std::size_t channels = 0;    // subscribe()d and not unsubscribe()d
  std::size_t subscribed = 0;  // of those, confirmed by Redis now
  std::uint64_t messages = 0;
  std::uint64_t subscriptions_lost = 0;  // channel subscriptions ended by a connection loss or a moved slot
  std::uint64_t connection_losses = 0;
};

class Subscriber {
 public:
  enum class Mode {
    kNode,     // `nodes` holds the one node
    kCluster,  // `nodes` are seeds; channels go to their slot's owner
  };

  // REQUIRES: at least one node.
  Subscriber(boost::asio::any_io_executor executor, std::vector<Endpoint> nodes, Mode mode,
             SubscriberCallbacks callbacks, SubscriberOptions options = {});
  ~Subscriber();  // closes every connection; no callback runs after it returns
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  // Subscribes to `channel` (a second call for it does nothing).
  void subscribe(std::string channel);
  // Stops delivering `channel`'s messages and unsubscribes from it.
  void unsubscribe(std::string channel);

  SubscriberStats stats() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace micq::redis

#endif  // MICQ_REDIS_SUBSCRIBER_H_
