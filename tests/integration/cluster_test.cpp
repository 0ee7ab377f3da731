// micq serve on a real three-node Redis Cluster (--redis-cluster).
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <thread>

#include "http_client.h"
#include "micq/redis/private_server.h"
#include "micq/redis/testing/redis_server.h"
#include "micq/stack/commands.h"
#include "process.h"

namespace micq::testing {
namespace {

using namespace std::chrono_literals;
const Headers kAuth{{"Authorization", "Bearer s3cret"}};

// Three redis-server masters in cluster mode (micq/redis/private_server.h),
// slots spread by redis-cli, each with `replicas` replicas (a node is
// deemed failed after 2 s, so a replica takes over within seconds).
class Cluster {
 public:
  explicit Cluster(int replicas = 0) {
    const int nodes = 3 * (1 + replicas);
    std::vector<std::uint16_t> ports = redis::free_cluster_ports(nodes);
    if (static_cast<int>(ports.size()) != nodes) {
      created_ = "no " + std::to_string(nodes) + " free port pairs for the nodes";
      return;
    }
    for (std::uint16_t port : ports) {
      nodes_.push_back(std::make_unique<redis::testing::RedisServer>(
          redis::testing::RedisServerOptions{.port = port, .cluster_node = true}));
    }
    created_ = output_of(Program{"redis-cli"}, redis::cluster_create_args(ports, replicas), 60s);
    // Redis announces no event for "every node agrees": ask each node,
    // every 50 ms for at most 20 s.
    for (int i = 0; i < 400 && !ok(); ++i) std::this_thread::sleep_for(50ms);
  }
  std::size_t nodes() const { return nodes_.size(); }
  bool ok() const {
    if (nodes_.empty()) return false;
    for (const auto& node : nodes_) {
      if (redis_cli(node->port(), "cluster info").find("cluster_state:ok") == std::string::npos) return false;
    }
    return true;
  }
  long keys_on(int node) const { return std::atol(cli(node, "dbsize").c_str()); }
  int port(int node) const { return nodes_[node]->port(); }
  std::string cli(int node, const std::string& args) const { return redis_cli(port(node), args); }
  std::string id(int node) const {
    std::string out = cli(node, "cluster myid");
    return out.substr(0, out.find('\n'));
  }
  // What forming the cluster said (redis-cli's output, or what failed).
  const std::string& created() const { return created_; }

 private:
  // Each killed (nothing is persisted) and reaped, its directory removed.
  std::vector<std::unique_ptr<redis::testing::RedisServer>> nodes_;
  std::string created_;
};

// sim, aggregator and a serve that knows the cluster by one seed (node 0).
struct ServeStack {
  explicit ServeStack(const Cluster& cluster, std::vector<std::string> serve_flags = {})
      : sim(start_service({"sim", "--kinds", "2", "--latency-ms", "1"})),
        aggregator(start_service(
            {"aggregator", "--downstream", "http://127.0.0.1:" + std::to_string(sim.port), "--kinds", "2"})),
        serve(start_service(serve_args(cluster, aggregator.port, std::move(serve_flags)))) {}

  static std::vector<std::string> serve_args(const Cluster& cluster, int aggregator_port,
                                             std::vector<std::string> flags) {
    return stack::serve_command({.redis_cluster = "127.0.0.1:" + std::to_string(cluster.port(0)),
                                 .aggregator_port = aggregator_port,
                                 .events_token = "s3cret"},
                                flags);
  }

  Service sim, aggregator, serve;
};

TEST(ClusterTest, ServeRoutesEveryRoomToItsNodeFromASingleSeed) {
  Cluster cluster;
  ASSERT_TRUE(cluster.ok()) << cluster.created();
  ServeStack stack(cluster);
  const Service& serve = stack.serve;
  for (int room = 0; room < 12; ++room) {
    std::string id = "room" + std::to_string(room);
    auto applied =
        post(serve.port, "/v1/rooms/" + id + "/events",
             R"({"events":[{"type":"gift","uid":"low","value":5},{"type":"gift","uid":"high","value":)" +
                 std::to_string(100 + room) + "}]}",
             kAuth);
    ASSERT_EQ(applied.result_int(), 200) << applied.body();
    auto replay = post(serve.port, "/v1/rooms/" + id + "/events", R"({"type":"chat","uid":"low"})",
                       {{"Authorization", "Bearer s3cret"}, {"Idempotency-Key", "k1"}});
    auto again = post(serve.port, "/v1/rooms/" + id + "/events", R"({"type":"chat","uid":"low"})",
                      {{"Authorization", "Bearer s3cret"}, {"Idempotency-Key", "k1"}});
    EXPECT_EQ(replay.body(), again.body());
    rapidjson::Document list;
    list.Parse(get(serve.port, "/v1/rooms/" + id + "/mic-queue").body().c_str());
    ASSERT_TRUE(list.IsObject());
    EXPECT_EQ(list["total"].GetInt(), 2);
    EXPECT_EQ(list["version"].GetInt(), 2);
    EXPECT_STREQ(list["items"][0]["uid"].GetString(), "high");
    EXPECT_EQ(list["items"][0]["score"].GetInt(), 100 + room);
    EXPECT_EQ(list["items"][1]["score"].GetInt(), 6);
  }
  int nodes_used = 0;
  for (int node = 0; node < 3; ++node) nodes_used += cluster.keys_on(node) > 0;
  EXPECT_GE(nodes_used, 2) << "rooms were spread over the cluster, not kept on the seed";
}

// A slot moving between nodes while serve uses it: first half-way (the old
// owner MIGRATING with every key already moved, the new one IMPORTING, so
// the old owner answers ASK), then for good (MOVED).
TEST(ClusterTest, ServeFollowsARoomWhoseSlotMovesToAnotherNode) {
  Cluster cluster;
  ASSERT_TRUE(cluster.ok()) << cluster.created();
  // direct: every list request reads Redis (nothing is answered from a cache).
  ServeStack stack(cluster, {"--strategy", "direct"});
  const Service& serve = stack.serve;
  const std::string events = "/v1/rooms/mover/events";
  ASSERT_EQ(post(serve.port, events, R"({"type":"gift","uid":"u1","value":10})", kAuth).result_int(), 200);
  auto version_and_score = [&] {
    auto reply = get(serve.port, "/v1/rooms/mover/mic-queue");
    rapidjson::Document list;
    list.Parse(reply.body().c_str());
    if (reply.result_int() != 200 || !list.IsObject() || list["items"].Empty())
      return std::pair<long, long>(-1, reply.result_int());
    return std::pair<long, long>(list["version"].GetInt64(), list["items"][0]["score"].GetInt64());
  };
  ASSERT_EQ(version_and_score(), (std::pair<long, long>(1, 10)));

  const std::string slot = cluster.cli(0, "cluster keyslot micq:{mover}:rank").substr(0, 5);
  int from = -1;
  for (int node = 0; node < 3; ++node)
    if (std::atoi(cluster.cli(node, "cluster countkeysinslot " + slot).c_str()) > 0) from = node;
  ASSERT_GE(from, 0);
  int to = (from + 1) % 3;
  ASSERT_NE(cluster.cli(to, "cluster setslot " + slot + " importing " + cluster.id(from)).find("OK"),
            std::string::npos);
  ASSERT_NE(cluster.cli(from, "cluster setslot " + slot + " migrating " + cluster.id(to)).find("OK"),
            std::string::npos);
  auto migrate = [&](const std::string& keys) {
    return cluster.cli(from,
                       "migrate 127.0.0.1 " + std::to_string(cluster.port(to)) + " \"\" 0 5000 keys " + keys);
  };
  // Keys move one at a time: with only the ranking moved, a list read is
  // answered partly by each node (ASK for the ranking, the version here).
  ASSERT_NE(migrate("micq:{mover}:rank").find("OK"), std::string::npos);
  EXPECT_EQ(version_and_score(), (std::pair<long, long>(1, 10)));
  std::string keys = cluster.cli(from, "cluster getkeysinslot " + slot + " 100");
  for (char& c : keys) c = c == '\n' ? ' ' : c;
  ASSERT_NE(migrate(keys).find("OK"), std::string::npos);

  // Half-way: the old owner answers ASK for every key of the room.
  EXPECT_EQ(version_and_score(), (std::pair<long, long>(1, 10)));
  auto during = post(serve.port, events, R"({"type":"gift","uid":"u1","value":5})", kAuth);
  EXPECT_EQ(during.result_int(), 200) << during.body();
  EXPECT_EQ(version_and_score(), (std::pair<long, long>(2, 15)));

  // For good: every node learns the new owner; serve is told MOVED.
  for (int node = 0; node < 3; ++node)
    EXPECT_NE(cluster.cli(node, "cluster setslot " + slot + " node " + cluster.id(to)).find("OK"),
              std::string::npos);
  auto after = post(serve.port, events, R"({"type":"gift","uid":"u1","value":1})", kAuth);
  EXPECT_EQ(after.result_int(), 200) << after.body();
  EXPECT_EQ(version_and_score(), (std::pair<long, long>(3, 16)));
  EXPECT_EQ(std::atoi(cluster.cli(from, "cluster countkeysinslot " + slot).c_str()), 0);
  EXPECT_GT(std::atoi(cluster.cli(to, "cluster countkeysinslot " + slot).c_str()), 0);
}

// Two instances on the cluster (SPEC §5 across instances, freshness): an
// event applied through one is in the other's answers by notification,
// well within a 5 s TTL, from whichever node owns the room; the fleet asks
// the aggregator once per change; and the notification follows the room
// when its slot moves to another node.
TEST(ClusterTest, TwoInstancesHearEachOthersEventsAndFollowAMovedSlot) {
  Cluster cluster;
  ASSERT_TRUE(cluster.ok()) << cluster.created();
  ServeStack stack(cluster, {"--ttl-ms", "5000"});
  Service other = start_service(ServeStack::serve_args(cluster, stack.aggregator.port, {"--ttl-ms", "5000"}));
  const int ports[2] = {stack.serve.port, other.port};
  // A room owned by a node other than the seed both instances were given
  // (the seed answers MOVED for it).
  auto owned_by = [&](int node, const std::string& id) {
    return cluster.cli(node, "get micq:{" + id + "}:ver").find("MOVED") == std::string::npos;
  };
  std::string room;
  for (int i = 0; room.empty() && i < 100; ++i) {
    if (!owned_by(0, "fleet" + std::to_string(i))) room = "fleet" + std::to_string(i);
  }
  ASSERT_FALSE(room.empty());
  const std::string events = "/v1/rooms/" + room + "/events";
  const std::string list = "/v1/rooms/" + room + "/mic-queue";
  auto top = [&](int port) {
    rapidjson::Document page;
    page.Parse(get(port, list).body().c_str());
    return page.IsObject() && !page["items"].Empty() ? std::string(page["items"][0]["uid"].GetString()) : "";
  };
  // Asks until `uid` is on top at `port`, for at most 2.5 s (half the TTL).
  auto reaches = [&](int port, const std::string& uid) {
    auto deadline = std::chrono::steady_clock::now() + 2500ms;
    while (std::chrono::steady_clock::now() < deadline) {
      if (top(port) == uid) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  };
  auto batches = [&] {
    rapidjson::Document stats;
    stats.Parse(get(stack.aggregator.port, "/stats").body().c_str());
    return stats.IsObject() ? stats["batches_total"].GetInt64() : -1;
  };
  ASSERT_EQ(post(ports[0], events, R"({"type":"gift","uid":"a","value":10})", kAuth).result_int(), 200);
  ASSERT_EQ(top(ports[0]), "a");
  ASSERT_EQ(top(ports[1]), "a");
  EXPECT_EQ(batches(), 1) << "the second instance took the first one's records";
  // Listening (through a MOVED from the seed) before the next event, so
  // that the notification, not the catch-up read, carries it.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline &&
         get(ports[1], "/readyz").body().find(R"("notifications":"subscribed")") == std::string::npos) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_NE(get(ports[1], "/readyz").body().find(R"("notifications":"subscribed")"), std::string::npos);
  ASSERT_EQ(post(ports[0], events, R"({"type":"gift","uid":"b","value":20})", kAuth).result_int(), 200);
  EXPECT_TRUE(reaches(ports[1], "b")) << "no notification from the room's node";
  EXPECT_TRUE(reaches(ports[0], "b"));
  EXPECT_EQ(batches(), 2) << "one batch for the fleet per user new to the page";

  // The room's slot moves for good: its keys migrated, every node told.
  const std::string slot = cluster.cli(0, "cluster keyslot micq:{" + room + "}:rank").substr(0, 5);
  int from = owned_by(1, room) ? 1 : 2;
  int to = (from + 1) % 3;
  ASSERT_NE(cluster.cli(to, "cluster setslot " + slot + " importing " + cluster.id(from)).find("OK"),
            std::string::npos);
  ASSERT_NE(cluster.cli(from, "cluster setslot " + slot + " migrating " + cluster.id(to)).find("OK"),
            std::string::npos);
  std::string keys = cluster.cli(from, "cluster getkeysinslot " + slot + " 100");
  for (char& c : keys) c = c == '\n' ? ' ' : c;
  ASSERT_NE(
      cluster.cli(from, "migrate 127.0.0.1 " + std::to_string(cluster.port(to)) + " \"\" 0 5000 keys " + keys)
          .find("OK"),
      std::string::npos);
  for (int node = 0; node < 3; ++node)
    ASSERT_NE(cluster.cli(node, "cluster setslot " + slot + " node " + cluster.id(to)).find("OK"),
              std::string::npos);
  ASSERT_EQ(post(ports[0], events, R"({"type":"gift","uid":"c","value":30})", kAuth).result_int(), 200);
  EXPECT_TRUE(reaches(ports[1], "c")) << "the subscription did not follow the slot";
  EXPECT_GE(metric_value(ports[1], "micq_notification_subscriptions_lost_total"), 2.0)
      << "the old node ended both of the room's subscriptions";
  EXPECT_EQ(metric_value(ports[1], "micq_notification_channels{state=\"subscribed\"}"),
            metric_value(ports[1], "micq_notification_channels{state=\"wanted\"}"));
}

// A master with a replica dies (SIGKILL) while events keep coming (SPEC §2,
// §5): serve keeps answering the list (stale within --max-stale-ms while
// the room's slot has no master), events resume once the replica has
// taken over, and no acknowledged event is lost: serve acknowledges a
// request only once a replica has it (--wait-replicas 1), and a client
// retries a 503 with its Idempotency-Key until it is acknowledged.
TEST(ClusterTest, AMasterFailoverLosesNoAcknowledgedEventAndServeKeepsAnswering) {
  Cluster cluster(1);
  ASSERT_TRUE(cluster.ok()) << cluster.created();
  ServeStack stack(cluster, {"--wait-replicas", "1", "--ttl-ms", "500", "--upstream-timeout-ms", "1000"});
  const int serve = stack.serve.port;
  // A room whose master is not the seed (node 0), so the seed survives.
  auto owner_of = [&](const std::string& id) {
    for (std::size_t node = 0; node < cluster.nodes(); ++node) {
      if (cluster.cli(static_cast<int>(node), "get micq:{" + id + "}:ver").find("MOVED") == std::string::npos)
        return static_cast<int>(node);
    }
    return -1;
  };
  std::string room;
  int master = -1;
  for (int i = 0; room.empty() && i < 100; ++i) {
    int owner = owner_of("failover" + std::to_string(i));
    if (owner > 0) {
      room = "failover" + std::to_string(i);
      master = owner;
    }
  }
  ASSERT_FALSE(room.empty());
  const std::string events = "/v1/rooms/" + room + "/events";
  const std::string list = "/v1/rooms/" + room + "/mic-queue";

  // One client: gifts of 1, each request retried with its key until
  // acknowledged (for at most 30 s each).
  std::atomic<int> acknowledged{0};
  std::atomic<bool> stop{false};
  std::atomic<int> gave_up{0};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      Headers keyed = kAuth;
      keyed.emplace_back("Idempotency-Key", "gift-" + std::to_string(i));
      auto deadline = std::chrono::steady_clock::now() + 30s;
      while (true) {
        auto reply = post(serve, events, R"({"type":"gift","uid":"a","value":1})", keyed);
        if (reply.result_int() == 200) {
          ++acknowledged;
          break;
        }

        if (std::chrono::steady_clock::now() > deadline) {
          ++gave_up;
          return;
        }
        std::this_thread::sleep_for(20ms);
      }
    }
  });
  auto wait_acknowledged = [&](int count) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (acknowledged < count && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    return acknowledged >= count;
  };
  EXPECT_TRUE(wait_acknowledged(20));
  ASSERT_EQ(get(serve, list).result_int(), 200);

  std::string pid = cluster.cli(master, "info server");
  pid = pid.substr(pid.find("process_id:") + 11);
  pid = pid.substr(0, pid.find_first_of("\r\n"));
  const int before_kill = acknowledged;
  ASSERT_EQ(::kill(std::atoi(pid.c_str()), SIGKILL), 0);
  // Until the replica takes over, the list is answered (stale) and no
  // event is acknowledged that a replica does not have.
  int list_errors = 0, list_answers = 0;
  auto until = std::chrono::steady_clock::now() + 30s;
  while (acknowledged < before_kill + 20 && std::chrono::steady_clock::now() < until) {
    auto reply = get(serve, list);
    ++list_answers;
    if (reply.result_int() != 200) ++list_errors;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_GE(acknowledged.load(), before_kill + 20) << "events did not resume after the failover";
  std::printf("failover: events resumed %lld ms after the kill; %d list answers meanwhile\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - (until - 30s))
                                         .count()),
              list_answers);
  stop = true;
  writer.join();
  EXPECT_EQ(gave_up.load(), 0);
  EXPECT_EQ(list_errors, 0) << "of " << list_answers << " list answers during the failover";

  // Every acknowledged gift is in the room once: the score counts them.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  long score = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    rapidjson::Document page;
    auto reply = get(serve, list);
    page.Parse(reply.body().c_str());
    if (reply.result_int() == 200 && page.IsObject() && !page["items"].Empty()) {
      score = page["items"][0]["score"].GetInt64();
      if (score == acknowledged) break;
    }
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(score, acknowledged.load()) << "acknowledged gifts lost or applied twice";
}

}  // namespace
}  // namespace micq::testing
