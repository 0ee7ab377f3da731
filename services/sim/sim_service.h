// The downstream simulator (SPEC §4): dozens of privilege services in one
// process. Pure state and request handling; sim_command.cpp wires it to
// flags and the HTTP server.
//
// Thread safety: handlers run concurrently on the server's threads; all
// state below is atomic or guarded by its mutex.
#ifndef MICQ_SIM_SIM_SERVICE_H_
#define MICQ_SIM_SIM_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "micq/http/router.h"
#include "micq/sync/mutex.h"
#include "record_cache.h"
#include "sim_config.h"

namespace micq::sim {

class SimService {
 public:
  // Bumped users are remembered (their gen) for good: at most
  // `max_bumped_users` of them, so bumps of ever-new uids cannot grow the
  // simulator without bound; past it a bump of a new uid is refused (507).
  static constexpr std::size_t kDefaultMaxBumpedUsers = 1'000'000;
  SimService(std::vector<std::string> kinds, SimConfig config,
             std::size_t max_bumped_users = kDefaultMaxBumpedUsers);

  // POST /v1/kinds/{kind}/batch, POST /admin/users/{uid}/bump,
  // POST /admin/config, GET /stats, POST /admin/reset-stats.
  void add_routes(http::Router& router);

  SimConfig config() const;

 private:
  boost::asio::awaitable<http::Response> batch(http::Request& request);
  boost::asio::awaitable<http::Response> bump(http::Request& request);
  boost::asio::awaitable<http::Response> set_config(http::Request& request);
  boost::asio::awaitable<http::Response> stats(http::Request& request);
  boost::asio::awaitable<http::Response> reset_stats(http::Request& request);

  std::uint64_t gen_of(std::string_view uid) const;
  std::string stats_json() const;

  const std::vector<std::string> kinds_;                     // constant
  std::unordered_map<std::string, std::size_t> kind_index_;  // constant after construction
  mutable sync::Mutex config_mu_;
  SimConfig config_ MICQ_GUARDED_BY(config_mu_);
  mutable sync::SharedMutex gens_mu_;
  std::unordered_map<std::string, std::uint64_t> gens_ MICQ_GUARDED_BY(gens_mu_);  // absent = 0
  const std::size_t max_bumped_users_;
  RecordCache records_;  // thread-safe
  std::atomic<std::uint64_t> requests_total_{0};
  std::unique_ptr<std::atomic<std::uint64_t>[]> requests_by_kind_;
};

}  // namespace micq::sim

#endif  // MICQ_SIM_SIM_SERVICE_H_
