// What /proc says about the processes under test: CPU time (utime + stime
// from /proc/<pid>/stat) and which process listens on a loopback port, so
// `micq bench` can charge CPU to serve, aggregator, sim and redis whether
// it started them or was only given their addresses.
#ifndef MICQ_BENCH_PROC_STATS_H_
#define MICQ_BENCH_PROC_STATS_H_

#include <sys/types.h>

#include <optional>
#include <string_view>

namespace micq::bench {

// The user + system CPU seconds in the text of a /proc/<pid>/stat, whose
// second field (the command name) may hold spaces and parentheses.
std::optional<double> cpu_seconds_from_stat(std::string_view stat, long ticks_per_second);

// The user + system CPU seconds `pid` has used so far, or nullopt if it is
// gone or unreadable.
std::optional<double> cpu_seconds_of(pid_t pid);

// The process with a TCP socket listening on `port` (IPv4 or IPv6), found
// through /proc/net/tcp* and /proc/<pid>/fd, or nullopt (not on this
// machine, or not visible to this user).
std::optional<pid_t> pid_listening_on(int port);

}  // namespace micq::bench

#endif  // MICQ_BENCH_PROC_STATS_H_
