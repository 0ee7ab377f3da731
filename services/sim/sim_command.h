// `micq sim`: flags (SPEC §1) and the run of the simulator.
#ifndef MICQ_SIM_SIM_COMMAND_H_
#define MICQ_SIM_SIM_COMMAND_H_

#include <CLI/CLI.hpp>

#include "micq/service/command.h"

namespace micq::sim {

// Registers the subcommand; when it is chosen, `action` is set to run it.
void add_command(CLI::App& app, service::Action& action);

}  // namespace micq::sim

#endif  // MICQ_SIM_SIM_COMMAND_H_
