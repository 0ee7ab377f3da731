// `micq serve`: flags (SPEC §1) and the run of the public API.
#ifndef MICQ_SERVE_SERVE_COMMAND_H_
#define MICQ_SERVE_SERVE_COMMAND_H_

#include <CLI/CLI.hpp>

#include "micq/service/command.h"

namespace micq::serve {

void add_command(CLI::App& app, service::Action& action);

}  // namespace micq::serve

#endif  // MICQ_SERVE_SERVE_COMMAND_H_
