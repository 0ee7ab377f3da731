// `micq up` (SPEC §7): the whole stack on loopback for a newcomer.
#ifndef MICQ_UP_UP_COMMAND_H_
#define MICQ_UP_UP_COMMAND_H_

#include <CLI/CLI.hpp>

#include "micq/service/command.h"

namespace micq::up {

void add_command(CLI::App& app, service::Action& action);

}  // namespace micq::up

#endif  // MICQ_UP_UP_COMMAND_H_
