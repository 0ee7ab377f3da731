// `micq bench` (SPEC §6), first part: an open-loop run against a given
// micq serve (or any HTTP target), printing latency percentiles measured
// from scheduled send times. The article scenario comes next.
#ifndef MICQ_BENCH_BENCH_COMMAND_H_
#define MICQ_BENCH_BENCH_COMMAND_H_

#include <CLI/CLI.hpp>

#include "micq/service/command.h"

namespace micq::bench {

void add_command(CLI::App& app, service::Action& action);

}  // namespace micq::bench

#endif  // MICQ_BENCH_BENCH_COMMAND_H_
