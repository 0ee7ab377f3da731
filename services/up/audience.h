// Audience: the demo room's simulated viewers (SPEC §7, `micq up
// --viewers`). Each viewer polls the room's list once a `period` with
// If-None-Match set to the ETag of its last answer, as the app's clients
// do; the viewers' polls are spread evenly over the period, so N viewers
// send N / period requests a second, the load one room of N viewers puts on
// serve. It is what makes the demo show coalescing at work: thousands of
// identical requests, one page build a TTL.
//
// At most `max_in_flight` polls are outstanding: a poll due while that many
// wait (serve stopped or stalled) is skipped and counted, so a dead serve
// never piles up coroutines.
//
// Thread safety: run() and stats() on one thread (up's io_context).
// Lifetime: made with std::make_shared; polls in flight keep it alive.
#ifndef MICQ_UP_AUDIENCE_H_
#define MICQ_UP_AUDIENCE_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "micq/http/client.h"

namespace micq::up {

struct AudienceOptions {
  int viewers = 2000;
  std::chrono::milliseconds period{3000};
  std::string target;  // e.g. /v1/rooms/demo/mic-queue
  std::size_t max_in_flight = 512;
};

struct AudienceStats {
  std::uint64_t answered = 0;      // 200
  std::uint64_t not_modified = 0;  // 304
  std::uint64_t failed = 0;        // anything else, or no answer
  std::uint64_t skipped = 0;       // due while max_in_flight were outstanding
};

class Audience : public std::enable_shared_from_this<Audience> {
 public:
  Audience(boost::asio::any_io_executor executor, http::Upstream serve, AudienceOptions options);

  // Polls until `stopping` turns true (checked every tick).
  boost::asio::awaitable<void> run(const bool& stopping);

  const AudienceStats& stats() const { return stats_; }

 private:
  static boost::asio::awaitable<void> poll(std::shared_ptr<Audience> self, std::size_t viewer);

  const AudienceOptions options_;
  http::ClientPool serve_;
  std::vector<std::string> etags_;  // per viewer: its last answer's ETag
  std::size_t in_flight_ = 0;
  AudienceStats stats_;
};

}  // namespace micq::up

#endif  // MICQ_UP_AUDIENCE_H_
