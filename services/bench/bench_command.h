// `micq bench` (SPEC §6): open-loop polling clients and an event stream
// against micq serve, measured per strategy — client latency and errors,
// aggregator and downstream requests, CPU per 1,000 requests of every
// process, staleness — and the machines a target load would need.
// `--scenario article` starts its own stack and reproduces the write-up's
// before/after; `--scenario hot-room` measures what room events cost one
// busy room (the same polls without events, with them, and with them on a
// plain TTL cache); `--serve URL` measures a stack that is already running.
#ifndef MICQ_BENCH_BENCH_COMMAND_H_
#define MICQ_BENCH_BENCH_COMMAND_H_

#include <CLI/CLI.hpp>

#include "micq/service/command.h"

namespace micq::bench {

void add_command(CLI::App& app, service::Action& action);

}  // namespace micq::bench

#endif  // MICQ_BENCH_BENCH_COMMAND_H_
