// The simulator's live settings (SPEC §1 flags, SPEC §4 POST /admin/config)
// as pure functions: the bounds, the config body's parse and the JSON the
// endpoint answers with. Shared by sim_service.cpp, sim_command.cpp and the
// config fuzz target (fuzz/sim_config_fuzz.cpp).
//
// Example:
//   auto next = parse_config_update(R"({"latency_ms":20})", current);
//   if (!next) return bad_request(next.error());
//   std::string answer = config_json(*next);
//
// Thread safety: pure functions.
#ifndef MICQ_SIM_SIM_CONFIG_H_
#define MICQ_SIM_SIM_CONFIG_H_

#include <boost/system/result.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace micq::sim {

struct SimConfig {
  std::uint64_t payload_bytes = 1024;
  double latency_ms = 5;    // median added latency
  double jitter_ms = 5;     // spread of the long-tailed (log-normal) latency
  double error_rate = 0;    // fraction answered 500
  double timeout_rate = 0;  // fraction not answered within 10 s
};

// The bounds of a config (validate), also the sim's flags' checks.
inline constexpr std::uint64_t kMaxPayloadBytes = std::uint64_t{1024} * 1024;
inline constexpr double kMaxLatencyMs = 60'000;  // latency_ms and jitter_ms

// Nothing if the config is fine, else why not (the rule it breaks).
boost::system::result<void, std::string> validate(const SimConfig& config);

// `current` with the settings of a POST /admin/config body applied: a JSON
// object with any of payload_bytes, latency_ms, jitter_ms, error_rate,
// timeout_rate (numbers). The result passes validate(); otherwise the
// error is the whole message for the 400 (a sentence).
boost::system::result<SimConfig, std::string> parse_config_update(std::string_view body,
                                                                  const SimConfig& current);

// {"payload_bytes":N,"latency_ms":x,"jitter_ms":x,"error_rate":x,"timeout_rate":x}:
// the endpoint's answer, which parse_config_update reads back unchanged.
std::string config_json(const SimConfig& config);

}  // namespace micq::sim

#endif  // MICQ_SIM_SIM_CONFIG_H_
