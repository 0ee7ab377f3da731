#include "up_command.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <random>

#include "audience.h"
#include "demo_control.h"
#include "micq/http/client.h"
#include "micq/redis/client.h"
#include "micq/service/flag_checks.h"
#include "micq/service/ids.h"
#include "micq/service/kinds.h"
#include "micq/stack/commands.h"
#include "micq/stack/stack.h"

namespace micq::up {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct Flags {
  std::string redis;  // empty: a private redis-server
  std::string listen = "127.0.0.1:8080";
  std::string room = "demo";
  double events_per_second = 4;
  int viewers = 2000;
  bool prometheus = false;
  std::string kinds = "24";
  int instances = 1;  // serve instances; more than one: behind haproxy on --listen
};

constexpr int kMaxInstances = 16;

// Command lines (stack/commands.h), made by functions so a co_await expression
// may take them: g++ 12 rejects a braced list inside one (PR 103871, docs/design.md).
std::vector<std::string> sim_args(const std::string& kinds) {
  return stack::sim_command(kinds, {"--latency-ms", "5", "--jitter-ms", "5"});
}
std::vector<std::string> serve_args(const std::string& listen, const std::string& redis, int aggregator_port,
                                    const std::string& token) {
  return stack::serve_command(
      {.listen = listen, .redis = redis, .aggregator_port = aggregator_port, .events_token = token});
}
// One instance of a fleet: its own free port, sharing built pages with the
// others through Redis (--l2 on), so the fleet builds a page once per TTL.
std::vector<std::string> fleet_serve_args(const std::string& redis, int aggregator_port,
                                          const std::string& token) {
  return stack::serve_command({.redis = redis, .aggregator_port = aggregator_port, .events_token = token},
                              {"--l2", "on"});
}
// deploy/prometheus.yml for this stack's ports (every serve instance),
// scraping every 5 s, with deploy/rules.yml beside the build (build/micq ->
// deploy/) when it is there.
std::string prometheus_config(const std::vector<int>& serves, int aggregator, int sim) {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  auto rules = exe.parent_path().parent_path() / "deploy" / "rules.yml";
  std::string config = "global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\n";
  if (!ec && std::filesystem::exists(rules)) config += "rule_files:\n  - " + rules.string() + "\n";
  config += "scrape_configs:\n";
  auto targets = [](const std::vector<int>& ports) {
    std::string list;
    for (int port : ports)
      list += (list.empty() ? "\"127.0.0.1:" : ", \"127.0.0.1:") + std::to_string(port) + "\"";
    return list;
  };
  for (auto [job, ports] : {std::pair{"micq_serve", serves},
                            {"micq_aggregator", std::vector<int>{aggregator}},
                            {"micq_sim", std::vector<int>{sim}}}) {
    config += std::string("  - job_name: ") + job + "\n    static_configs:\n      - targets: [" +
              targets(ports) + "]\n";
  }
  return config;
}

std::string opening_events() {
  std::string body = R"({"events":[)";
  for (int i = 0; i < 30; ++i)
    body += std::string(i ? "," : "") + R"({"type":"enter","uid":"viewer)" + std::to_string(i) + "\"}";
  return body + "]}";
}

void say(const std::string& text) {
  std::printf("micq up: %s\n", text.c_str());
  std::fflush(stdout);
}

class Up {
 public:
  Up(asio::io_context& ioc, Flags flags)
      : ioc_(ioc),
        flags_(std::move(flags)),
        stack_(ioc, stack::Child::Output::kEcho),
        stop_event_(ioc),
        signals_(ioc, SIGINT, SIGTERM) {
    stop_event_.expires_at(asio::steady_timer::time_point::max());
  }

  int exit_code() const { return exit_code_; }

  asio::awaitable<void> run() {
    signals_.async_wait([this](boost::system::error_code ec, int) {
      if (!ec) request_stop("stopping (signal)");
    });
    bool started = co_await start_all();
    if (started) {
      for (const auto& child : stack_.children()) asio::co_spawn(ioc_, watch(child.get()), asio::detached);
      asio::co_spawn(ioc_, demo_stream(), asio::detached);
      if (flags_.viewers > 0) {
        AudienceOptions options;
        options.viewers = flags_.viewers;
        options.target = "/v1/rooms/" + flags_.room + "/mic-queue";
        audience_ = std::make_shared<Audience>(
            ioc_.get_executor(), http::Upstream{"127.0.0.1", static_cast<std::uint16_t>(serve_port_)},
            options);
        asio::co_spawn(ioc_, audience_->run(stopping_), asio::detached);
      }
      // A stop asked for before this wait began (a child that died or a
      // signal while the stack was starting) cancelled no wait: the flag
      // keeps it.
      if (!stop_requested_) co_await stop_event_.async_wait(use_tuple);
    } else if (!stop_requested_) {
      exit_code_ = 1;  // a start failed (a signal while starting exits 0, like any Ctrl-C)
    }
    stopping_ = true;
    // Stop in reverse order of start: serve first, Redis last.
    if (control_) control_->release_aggregator();  // a stopped process would not take SIGTERM
    co_await stack_.stop_all(6s);
    control_.reset();
    say("everything stopped");
    signals_.cancel();
    ioc_.stop();
  }

 private:
  void request_stop(const std::string& why) {
    if (stopping_ || stop_requested_) return;
    say(why);
    stop_requested_ = true;
    stop_event_.cancel();
  }

  asio::awaitable<void> watch(stack::Child* child) {
    int code = co_await child->wait_exit();
    if (!stopping_) {
      exit_code_ = 1;
      request_stop(child->name() + " exited (code " + std::to_string(code) + "); stopping the rest");
    }
  }

  asio::awaitable<bool> start_all() {
    std::string redis = flags_.redis;
    if (redis.empty()) {
      auto address = co_await stack_.start_private_redis();
      if (!address) co_return false;
      redis = *address;
    }
    // Ctrl-C while starting: start nothing more (and never say "up").
    if (stop_requested_) co_return false;
    int sim = co_await stack_.start_micq("sim", sim_args(flags_.kinds));
    if (!sim || stop_requested_) co_return false;
    sim_port_ = sim;
    int aggregator = co_await stack_.start_micq("aggregator", stack::aggregator_command(flags_.kinds, sim));
    if (!aggregator || stop_requested_) co_return false;
    token_ = stack::random_hex(16);
    auto starting_serve = start_serves(redis, aggregator);
    int serve = co_await std::move(starting_serve);
    if (!serve || stop_requested_) co_return false;
    serve_port_ = serve;
    events_per_second_.store(flags_.events_per_second);
    DemoEndpoints endpoints;
    endpoints.serve = static_cast<std::uint16_t>(serve);
    for (int port : instance_ports_) endpoints.serve_instances.push_back(static_cast<std::uint16_t>(port));
    endpoints.aggregator = static_cast<std::uint16_t>(aggregator);
    endpoints.sim = static_cast<std::uint16_t>(sim);
    for (const auto& child : stack_.children())
      if (child->name() == "aggregator") endpoints.aggregator_pid = child->pid();
    endpoints.room = flags_.room;
    endpoints.events_token = token_;
    control_.emplace(std::move(endpoints), events_per_second_);
    std::uint16_t control_port = control_->start();
    std::string base = "http://127.0.0.1:" + std::to_string(serve);
    // The page finds its controls and chart data through `control`.
    std::string control =
        control_port ? "&control=http://127.0.0.1:" + std::to_string(control_port) : std::string();
    if (flags_.instances > 1) {
      std::string instances;
      for (int port : instance_ports_) instances += (instances.empty() ? "" : ", ") + std::to_string(port);
      say(std::to_string(flags_.instances) + " serve instances (127.0.0.1 ports " + instances +
          ") behind haproxy on " + base + " (round robin; answers name theirs in X-Micq-Instance)");
    }
    say("up. Open " + base + "/demo?room=" + flags_.room + control);
    say("the list as JSON: " + base + "/v1/rooms/" + flags_.room + "/mic-queue");
    say("post events with: curl -H 'Authorization: Bearer " + token_ +
        "' -d '{\"type\":\"gift\",\"uid\":\"u1\",\"value\":100}' " + base + "/v1/rooms/" + flags_.room +
        "/events");
    if (flags_.viewers > 0)
      say(std::to_string(flags_.viewers) +
          " simulated viewers poll the room every 3 s with If-None-Match "
          "(--viewers 0: none)");
    if (flags_.prometheus) {
      int prometheus = co_await stack_.start_prometheus(prometheus_config(instance_ports_, aggregator, sim));
      if (!prometheus) co_return false;
      say("Prometheus scrapes the stack (with deploy/rules.yml): http://127.0.0.1:" +
          std::to_string(prometheus) + "/graph?g0.expr=fleet%3Amicq_batches_per_request%3Aratio_rate1m");
    }
    say("Ctrl-C stops everything.");
    co_return true;
  }

  // One serve on --listen, or --instances of them on free ports behind
  // haproxy on --listen. Returns the port clients use (serve's or
  // haproxy's), 0 if something did not start.
  asio::awaitable<int> start_serves(std::string redis, int aggregator) {
    if (flags_.instances == 1) {
      auto starting = stack_.start_micq("serve", serve_args(flags_.listen, redis, aggregator, token_));
      int port = co_await std::move(starting);
      if (port) instance_ports_.push_back(port);
      co_return port;
    }
    for (int i = 0; i < flags_.instances; ++i) {
      auto starting =
          stack_.start_micq("serve-" + std::to_string(i), fleet_serve_args(redis, aggregator, token_));
      int port = co_await std::move(starting);
      if (!port || stop_requested_) co_return 0;
      instance_ports_.push_back(port);
    }
    auto balancing = stack_.start_haproxy(instance_ports_, flags_.listen);
    co_return co_await std::move(balancing);
  }

  // A live room: viewers enter and leave, chat, share, send gifts; now and
  // then a privilege changes downstream (a sim bump) and in the room.
  asio::awaitable<void> demo_stream() {
    auto executor = co_await asio::this_coro::executor;
    http::ClientOptions with_token;
    with_token.headers.emplace_back("Authorization", "Bearer " + token_);
    http::ClientPool serve(executor, {"127.0.0.1", static_cast<std::uint16_t>(serve_port_)}, with_token);
    http::ClientPool sim(executor, {"127.0.0.1", static_cast<std::uint16_t>(sim_port_)});
    std::string target = "/v1/rooms/" + flags_.room + "/events";
    std::mt19937 rng(std::random_device{}());
    auto uid = [&] { return "viewer" + std::to_string(rng() % 60); };
    co_await post_event(serve, target, opening_events());
    asio::steady_timer pace(executor);
    while (!stopping_) {
      // The rate the demo page set (or --events-per-second).
      auto period = std::chrono::duration<double>(1.0 / events_per_second_.load());
      pace.expires_after(std::chrono::duration_cast<std::chrono::nanoseconds>(period));
      co_await pace.async_wait(use_tuple);
      if (stopping_) break;
      unsigned roll = rng() % 100;
      std::string who = uid();
      std::string event;
      if (roll < 45) {
        event = R"({"type":"gift","uid":")" + who + R"(","value":)" + std::to_string(1 + rng() % 500) + "}";
      } else if (roll < 65) {
        event = R"({"type":"chat","uid":")" + who + "\"}";
      } else if (roll < 75) {
        event = R"({"type":"share","uid":")" + who + "\"}";
      } else if (roll < 85) {
        event = R"({"type":"enter","uid":")" + who + "\"}";
      } else if (roll < 92) {
        event = R"({"type":"exit","uid":")" + who + "\"}";
      } else {
        auto bump = sim.request(http::Method::post, "/admin/users/" + who + "/bump", "", 1s);
        co_await std::move(bump);
        event = R"({"type":"privilege","uid":")" + who + "\"}";
      }
      co_await post_event(serve, target, event);
    }
  }

  asio::awaitable<void> post_event(http::ClientPool& serve, const std::string& target, std::string body) {
    auto call = serve.request(http::Method::post, target, std::move(body), 2s);
    auto reply = co_await std::move(call);
    (void)reply;  // a failed demo event is not worth stopping for
  }

  asio::io_context& ioc_;
  const Flags flags_;
  stack::Stack stack_;
  asio::steady_timer stop_event_;  // cancelled to stop everything
  asio::signal_set signals_;
  std::shared_ptr<Audience> audience_;  // --viewers > 0
  std::atomic<double> events_per_second_{4};
  std::optional<DemoControl> control_;  // once the stack is up
  std::string token_;
  int sim_port_ = 0;
  int serve_port_ = 0;               // where clients go: serve, or haproxy before the instances
  std::vector<int> instance_ports_;  // every serve instance
  bool stopping_ = false;
  bool stop_requested_ = false;
  int exit_code_ = 0;
};

// Every flag of up is checked at its definition (add_command).
int run(const Flags& flags) {
  asio::io_context ioc;
  Up up(ioc, flags);
  asio::co_spawn(ioc, up.run(), asio::detached);
  ioc.run();
  return up.exit_code();
}

}  // namespace

void add_command(CLI::App& app, service::Action& action) {
  auto flags = std::make_shared<Flags>();
  CLI::App* command =
      app.add_subcommand("up", "Start the whole stack on loopback with a live demo room (SPEC §7).");
  service::add_flag(*command, "redis", flags->redis,
                    "use this Redis host:port instead of a private redis-server")
      ->check(service::or_empty(service::parsed_by(redis::parse_endpoint)));
  service::add_flag(*command, "listen", flags->listen, "address:port of micq serve")
      ->check(service::parsed_by(service::parse_listen));
  service::add_flag(*command, "room", flags->room, "the demo room")
      ->check(service::satisfying([](const std::string& room) { return service::is_valid_id(room); },
                                  "must be a valid room id"));
  service::add_flag(*command, "events-per-second", flags->events_per_second, "pace of the demo room's events")
      ->check(service::more_than_at_most(0, 1000));
  service::add_flag(*command, "kinds", flags->kinds, "privilege kinds to simulate")
      ->check(service::parsed_by(service::parse_kinds));
  command
      ->add_flag("--prometheus", flags->prometheus,
                 "also start Debian's prometheus scraping the stack, with deploy/rules.yml")
      ->envname("MICQ_PROMETHEUS");
  service::add_flag(*command, "viewers", flags->viewers,
                    "simulated viewers of the demo room, each polling every 3 s with If-None-Match; 0: none")
      ->check(service::in_range(0, 100'000));
  service::add_flag(*command, "instances", flags->instances,
                    "serve instances; more than 1: behind haproxy on --listen, sharing pages through Redis")
      ->check(service::in_range(1, kMaxInstances));
  command->callback([flags, &action] { action = [flags] { return run(*flags); }; });
}

}  // namespace micq::up
