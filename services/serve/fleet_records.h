// FleetRecords: privilege records shared by every serve instance through
// Redis (SPEC §5 "across instances"), so the fleet asks the aggregator for
// a user's records about as often as one instance would: once per TTL.
//
// A PrivilegeSource around the aggregator's. For a page's users it first
// reads the room's shared copies (`micq:{room}:rec:<uid>`, one script for
// the whole page: the room's hash tag keeps them on one node), takes every
// copy young enough for the caller, and fetches only the rest:
//  * the instance that wins the fetch's lock (SET NX, per room and set of
//    users) asks the aggregator, writes the records back with the life
//    they have left, and says "records" on the room's fleet channel;
//  * the others wait for that message (not a poll), read again, and after
//    a bounded wait (twice the upstream timeout) fetch what is still
//    missing themselves.
// Redis failing never fails a fetch: the records come from the aggregator
// as they would without a fleet.
//
// A batch that began before a `privilege` event in the room and ends after
// it shares nothing: what it brought may predate the event, which dropped
// the shared copies. The room's privilege generation (read with the copies,
// checked by the script that writes them back) tells.
//
// Thread safety: as PrivilegeSource.
#ifndef MICQ_SERVE_FLEET_RECORDS_H_
#define MICQ_SERVE_FLEET_RECORDS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "privilege_source.h"
#include "room_channels.h"
#include "room_store.h"

namespace micq::serve {

struct FleetRecordsStats {
  std::uint64_t users_shared = 0;      // records taken from the fleet's copies
  std::uint64_t users_fetched = 0;     // records fetched here (and shared)
  std::uint64_t lock_waits = 0;        // fetches that waited for another instance's
  std::uint64_t wait_timeouts = 0;     // of those, gave up waiting and fetched here
  std::uint64_t batches_unshared = 0;  // fetched here, not shared: a privilege event came meanwhile
};

class FleetRecords final : public PrivilegeSource {
 public:
  // `inner` (the aggregator), `rooms` and `channels` must outlive this.
  FleetRecords(PrivilegeSource& inner, RoomStore& rooms, RoomChannels& channels,
               std::chrono::milliseconds ttl)
      : inner_(inner), rooms_(rooms), channels_(channels), ttl_(ttl) {}

  boost::asio::awaitable<ApiResult<std::string>> batch_body(std::vector<std::string> uids) override;
  boost::asio::awaitable<ApiResult<std::vector<PrivilegeRecord>>> records(std::vector<std::string> uids,
                                                                          RecordsScope scope) override;

  FleetRecordsStats stats() const;

 private:
  // What one read of the shared copies found: a copy per uid asked (or
  // nullopt), and the room's privilege generation then.
  struct Found {
    std::vector<std::optional<PrivilegeRecord>> records;
    std::string generation;
  };
  // One records() call's progress: what it has and what it still needs.
  struct Pending {
    std::vector<std::string> uids;
    std::vector<PrivilegeRecord> out;  // one per uid
    std::vector<std::size_t> missing;  // indexes into uids not yet in out
    // The privilege generation the last read saw: a fetch after it shares
    // its records only if no privilege event came since (nullopt: no read).
    std::optional<std::string> generation;
    // Takes `found` (aligned with `missing`) into `out`, and its generation.
    void take(const Found& found, std::atomic<std::uint64_t>& shared);
    std::vector<std::string> missing_uids() const;
  };
  // Takes the fetch's lock (returns its key: this instance fetches what is
  // still missing after one more look), or waits for whoever holds it and
  // takes what they shared into `pending` (returns ""). Also "" when Redis
  // fails (fetch unlocked) or when the look after taking it found all.
  boost::asio::awaitable<std::string> claim_or_wait(const std::string& room, Pending& pending,
                                                    std::chrono::nanoseconds accept_age);
  // The shared copies of `uids` in `room` at most `accept_age` old (nullopt
  // where there is none); nullopt when Redis failed. (By value: callers
  // pass temporaries, and the coroutine runs after they are gone.)
  boost::asio::awaitable<std::optional<Found>> read_shared(std::string room, std::vector<std::string> uids,
                                                           std::chrono::nanoseconds accept_age);
  // Fetches `uids` from the aggregator, writes them back if the room's
  // privilege generation is still `generation`, releases `lock_key` (if
  // any) and wakes the room's waiters.
  boost::asio::awaitable<ApiResult<std::vector<PrivilegeRecord>>> fetch_and_share(
      const std::string& room, std::vector<std::string> uids, std::string lock_key,
      std::optional<std::string> generation);

  PrivilegeSource& inner_;
  RoomStore& rooms_;
  RoomChannels& channels_;
  const std::chrono::milliseconds ttl_;
  std::atomic<std::uint64_t> users_shared_{0}, users_fetched_{0}, lock_waits_{0}, wait_timeouts_{0},
      unshared_{0};
};

}  // namespace micq::serve

#endif  // MICQ_SERVE_FLEET_RECORDS_H_
