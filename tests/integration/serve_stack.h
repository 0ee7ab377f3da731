// Test harness: the serve tests' stack — sim (4 kinds), aggregator and a
// `micq serve` on loopback against a redis-server the test owns.
#ifndef MICQ_TESTS_SERVE_STACK_H_
#define MICQ_TESTS_SERVE_STACK_H_

#include <string>
#include <vector>

#include "process.h"

namespace micq::testing {

struct ServeStack {
  Service sim, aggregator, serve;
};

// serve with `--strategy strategy`, events token "s3cret" and
// `--upstream-timeout-ms 3000` unless `serve_flags` sets it; the sim answers
// after `sim_latency_ms` (no jitter), the aggregator waits 2 s for it.
ServeStack start_serve_stack(int redis_port, const std::string& strategy,
                             std::vector<std::string> serve_flags, const std::string& sim_latency_ms);

// An events body in which u0..u<users-1> each send one gift of 10 + i
// coins: every user ranked, with distinct scores (u0 lowest).
std::string gifts_body(int users);

}  // namespace micq::testing

#endif  // MICQ_TESTS_SERVE_STACK_H_
