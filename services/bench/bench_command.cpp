#include "bench_command.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>

#include "micq/service/kinds.h"
#include "open_loop.h"

namespace micq::bench {
namespace {

namespace asio = boost::asio;

struct Flags {
  std::string target = "http://127.0.0.1:8080";
  std::string room = "demo";
  int viewers = 3000;
  double poll_seconds = 3;
  double duration_s = 10;
  std::string arrivals = "poisson";
  std::string path;  // overrides the room's list path
};

int run(const Flags& flags) {
  auto upstream = http::parse_upstream(flags.target);
  if (!upstream) return service::fail_usage("bench", "--target: " + upstream.error());
  if (!service::is_valid_id(flags.room))
    return service::fail_usage("bench", "--room must be a valid room id");
  if (flags.viewers < 1 || flags.viewers > 10'000'000)
    return service::fail_usage("bench", "--viewers must be 1..10000000");
  if (!(flags.poll_seconds > 0 && flags.poll_seconds <= 3600)) {
    return service::fail_usage("bench", "--poll-seconds must be more than 0 and at most 3600");
  }
  if (!(flags.duration_s > 0 && flags.duration_s <= 86400)) {
    return service::fail_usage("bench", "--duration-s must be more than 0 and at most 86400");
  }
  if (flags.arrivals != "poisson" && flags.arrivals != "even") {
    return service::fail_usage("bench", "--arrivals must be poisson or even");
  }
  if (!flags.path.empty() && flags.path.front() != '/')
    return service::fail_usage("bench", "--path must start with /");

  OpenLoopPlan plan;
  plan.target = flags.path.empty() ? "/v1/rooms/" + flags.room + "/mic-queue" : flags.path;
  plan.rate_per_second = flags.viewers / flags.poll_seconds;
  plan.arrivals = flags.arrivals == "even" ? loadgen::ArrivalSchedule::Kind::kEven
                                           : loadgen::ArrivalSchedule::Kind::kPoisson;
  plan.duration = std::chrono::milliseconds(static_cast<std::int64_t>(flags.duration_s * 1000));

  asio::io_context ioc(1);
  http::ClientOptions options;
  options.max_connections = 4096;
  options.max_idle = 1024;
  http::ClientPool pool(ioc.get_executor(), *upstream, options);
  OpenLoopResult result;
  std::printf("micq bench: %d viewers polling every %.1f s = %.0f requests/s (%s) for %.1f s against %s%s\n",
              flags.viewers, flags.poll_seconds, plan.rate_per_second, flags.arrivals.c_str(),
              flags.duration_s, flags.target.c_str(), plan.target.c_str());
  std::fflush(stdout);
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        auto go = run_open_loop(pool, plan);
        result = co_await std::move(go);
      },
      asio::detached);
  ioc.run();

  double seconds = std::chrono::duration<double>(result.elapsed).count();
  auto ms = [](std::uint64_t us) { return static_cast<double>(us) / 1000.0; };
  std::printf("%-12s %12s\n", "scheduled", std::to_string(result.scheduled).c_str());
  std::printf("%-12s %12s\n", "ok", std::to_string(result.ok).c_str());
  std::printf("%-12s %12s\n", "errors", std::to_string(result.errors).c_str());
  std::printf("%-12s %12.0f\n", "achieved/s", static_cast<double>(result.ok + result.errors) / seconds);
  std::printf("latency from scheduled send time (ms): p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
              ms(result.latency.percentile(0.5)), ms(result.latency.percentile(0.99)),
              ms(result.latency.percentile(0.999)), ms(result.latency.max()));
  return result.errors == 0 ? 0 : 1;
}

}  // namespace

void add_command(CLI::App& app, service::Action& action) {
  auto flags = std::make_shared<Flags>();
  CLI::App* command =
      app.add_subcommand("bench", "Open-loop load against a micq serve; latency from scheduled send times.");
  service::add_flag(*command, "target", flags->target, "base URL of the server under test");
  service::add_flag(*command, "room", flags->room, "the room whose list the viewers poll");
  service::add_flag(*command, "viewers", flags->viewers,
                    "viewers in the room, each polling every --poll-seconds");
  service::add_flag(*command, "poll-seconds", flags->poll_seconds, "how often each viewer polls");
  service::add_flag(*command, "duration-s", flags->duration_s, "how long to send");
  service::add_flag(*command, "arrivals", flags->arrivals, "poisson or even");
  service::add_flag(*command, "path", flags->path, "request this path instead of the room's list");
  command->callback([flags, &action] { action = [flags] { return run(*flags); }; });
}

}  // namespace micq::bench
