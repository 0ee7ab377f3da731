// `micq aggregator`: flags (SPEC §1) and the run of the aggregation service.
#ifndef MICQ_AGGREGATOR_AGGREGATOR_COMMAND_H_
#define MICQ_AGGREGATOR_AGGREGATOR_COMMAND_H_

#include <CLI/CLI.hpp>

#include "micq/service/command.h"

namespace micq::aggregator {

void add_command(CLI::App& app, service::Action& action);

}  // namespace micq::aggregator

#endif  // MICQ_AGGREGATOR_AGGREGATOR_COMMAND_H_
