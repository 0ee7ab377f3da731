// micq: one executable, one subcommand per process of the system (SPEC §1).
// Only subcommands that really work are registered here.
#include <CLI/CLI.hpp>
#include <cstdio>

int main(int argc, char** argv) {
  CLI::App app{"micq: coalesced, cached serving of live-room mic-queue lists"};
  app.set_version_flag("--version", std::string("micq ") + MICQ_VERSION);
  app.footer("Subcommands arrive as they are built: serve, aggregator, sim, bench, up.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (argc == 1) std::fputs(app.help().c_str(), stdout);
  return 0;
}
