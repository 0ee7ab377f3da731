// micq: one executable, one subcommand per process of the system (SPEC §1).
// Only subcommands that really work are registered here.
#include <malloc.h>

#include <CLI/CLI.hpp>

#include "micq/service/command.h"
#include "services/aggregator/aggregator_command.h"
#include "services/bench/bench_command.h"
#include "services/serve/serve_command.h"
#include "services/sim/sim_command.h"
#include "services/up/up_command.h"

int main(int argc, char** argv) {
  // Response bodies and downstream answers are often 100 KB+. By default
  // glibc maps each such block fresh and unmaps it on free, so every request
  // pays page faults on new memory (10% of the aggregator's CPU in perf).
  // Keep them in the heap; allow up to 64 MB of free memory to stay cached.
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
  CLI::App app{"micq: coalesced, cached serving of live-room mic-queue lists"};
  app.set_version_flag("--version", std::string("micq ") + MICQ_VERSION);
  app.require_subcommand(0, 1);
  micq::service::Action action;
  micq::up::add_command(app, action);
  micq::bench::add_command(app, action);
  micq::serve::add_command(app, action);
  micq::aggregator::add_command(app, action);
  micq::sim::add_command(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return micq::service::fail_parse(app, e);
  }
  if (!action) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  }
  return action();
}
