#include "privilege_cache.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/this_coro.hpp>
#include <functional>
#include <list>
#include <optional>
#include <unordered_map>
#include <utility>

#include "micq/coalesce/internal/expiry.h"
#include "micq/coalesce/shared_load.h"
#include "micq/sync/mutex.h"

namespace micq::serve {

namespace asio = boost::asio;
using coalesce::Duration;
using coalesce::TimePoint;

namespace {

// Bookkeeping charged to every record besides its text, so that many tiny
// records cannot slip past the byte bound.
constexpr std::size_t kSlotOverhead = 192;

enum class BatchReason { kNewUsers, kPrivilegeEvent, kRefresh };

// What one batch produced, for the get() calls awaiting it.
struct BatchOutcome {
  std::vector<std::string> uids;
  std::vector<std::shared_ptr<const CachedRecord>> records;  // aligned with uids; empty on error
  std::optional<ApiError> error;
};
using BatchLoad = coalesce::SharedLoad<BatchOutcome>;

}  // namespace

struct PrivilegeCache::State {
  struct Slot {
    std::shared_ptr<const CachedRecord> record;  // null until a batch brings one
    std::shared_ptr<BatchLoad> flight;           // the batch in flight for this user, if any
    std::uint64_t flight_seq = 0;                // that batch's sequence number
    // Records and batches numbered below this are not to be used: they
    // began before a privilege event for the user.
    std::uint64_t invalidated_seq = 0;
    std::list<const std::string*>::iterator lru;
    std::size_t bytes = 0;
  };
  struct Shard {
    sync::Mutex mu;
    std::unordered_map<std::string, Slot> slots MICQ_GUARDED_BY(mu);
    std::list<const std::string*> lru MICQ_GUARDED_BY(mu);  // most recent first; points at keys
    std::size_t bytes MICQ_GUARDED_BY(mu) = 0;
  };

  State(PrivilegeSource& s, PrivilegeCacheOptions o)
      : source(s), options(std::move(o)), shards(std::max<std::size_t>(1, options.shards)) {
    if (!options.clock) options.clock = coalesce::SteadyClock::instance();
    entries_per_shard = std::max<std::size_t>(1, options.max_entries / shards.size());
    bytes_per_shard = std::max<std::size_t>(1, options.max_bytes / shards.size());
  }

  PrivilegeSource& source;
  PrivilegeCacheOptions options;  // constant after construction
  std::vector<Shard> shards;
  std::size_t entries_per_shard = 1;  // constant after construction
  std::size_t bytes_per_shard = 1;    // constant after construction

  // Numbers batches in the order they are created.
  std::atomic<std::uint64_t> next_batch_seq{1};
  std::atomic<std::uint64_t> batches_new_users{0}, batches_refresh{0}, batches_privilege_event{0},
      batches_failed{0}, users_fetched{0}, users_joined{0}, evictions{0};

  Shard& shard_for(std::string_view uid) {
    return shards[std::hash<std::string_view>{}(uid) % shards.size()];
  }

  // Records at least this old are renewed along with any batch of their
  // page's (see renew_share).
  Duration renew_age() const {
    return Duration(static_cast<Duration::rep>(static_cast<double>(options.ttl.count()) *
                                               std::clamp(options.renew_share, 0.0, 1.0)));
  }
  bool expired(const CachedRecord& record, TimePoint now) const {
    return now >= record.fetched_at + options.ttl;
  }
  // The least refresh window: what it is for a record fetched fast.
  Duration window_floor() const {
    return std::max(options.refresh_window_min,
                    Duration(static_cast<Duration::rep>(static_cast<double>(options.ttl.count()) *
                                                        options.refresh_window_ttl_share)));
  }
  bool due(const CachedRecord& record, TimePoint now) const {
    Duration window =
        coalesce::internal::refresh_window(record.batch_time, options.refresh_window_factor, window_floor());
    return now >= record.fetched_at + options.ttl - window;
  }
  // How old a record fetched by another instance may be and still serve a
  // batch: not due yet, and when the batch renews records held here, well
  // younger than the youngest of them (half its age): renewed since by
  // another instance, not the very copy held. So the fleet renews a user
  // once per TTL, whichever instance comes first.
  Duration accept_age(Duration youngest_renewed) const {
    return std::min(options.ttl - window_floor(), youngest_renewed / 2);
  }

  // The slot of `uid`, created (and the shard trimmed to its bounds) if
  // absent, and marked most recently used.
  Slot& touch(Shard& shard, const std::string& uid) MICQ_REQUIRES(shard.mu) {
    auto [it, inserted] = shard.slots.try_emplace(uid);
    Slot& slot = it->second;
    if (inserted) {
      shard.lru.push_front(&it->first);
      slot.lru = shard.lru.begin();
      slot.bytes = kSlotOverhead + uid.size();
      shard.bytes += slot.bytes;
      trim(shard, &it->first);
    } else {
      shard.lru.splice(shard.lru.begin(), shard.lru, slot.lru);
    }
    return slot;
  }

  // Evicts least recently used slots (never `spare`) until the shard is
  // within its bounds.
  void trim(Shard& shard, const std::string* spare) MICQ_REQUIRES(shard.mu) {
    while ((shard.slots.size() > entries_per_shard || shard.bytes > bytes_per_shard) &&
           shard.lru.size() > 1) {
      const std::string* victim = shard.lru.back();
      if (victim == spare) break;  // it alone is over the bound: keep it, the next insert trims it
      auto it = shard.slots.find(*victim);
      shard.bytes -= it->second.bytes;
      shard.lru.pop_back();
      shard.slots.erase(it);
      evictions.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // Stores what a batch brought and lets go of its flight registrations.
  void store(const BatchOutcome& outcome, const BatchLoad* flight) {
    for (std::size_t i = 0; i < outcome.uids.size(); ++i) {
      const std::string& uid = outcome.uids[i];
      Shard& shard = shard_for(uid);
      sync::MutexLock lock(shard.mu);
      if (outcome.error) {
        auto it = shard.slots.find(uid);
        if (it != shard.slots.end() && it->second.flight.get() == flight) it->second.flight.reset();
        continue;
      }
      Slot& slot = touch(shard, uid);
      if (slot.flight.get() == flight) slot.flight.reset();
      const auto& record = outcome.records[i];
      if (slot.record && slot.record->batch_seq > record->batch_seq) continue;  // a newer one landed first
      std::size_t bytes = kSlotOverhead + uid.size() + record->record.json.size();
      shard.bytes = shard.bytes - slot.bytes + bytes;
      slot.bytes = bytes;
      slot.record = record;
      trim(shard, &shard.slots.find(uid)->first);
    }
  }

  static asio::awaitable<BatchOutcome> fetch(std::shared_ptr<State> st, std::vector<std::string> uids,
                                             BatchReason reason, const BatchLoad* flight, std::uint64_t seq,
                                             std::string room, Duration youngest_renewed) {
    switch (reason) {
      case BatchReason::kNewUsers:
        st->batches_new_users.fetch_add(1, std::memory_order_relaxed);
        break;
      case BatchReason::kPrivilegeEvent:
        st->batches_privilege_event.fetch_add(1, std::memory_order_relaxed);
        break;
      case BatchReason::kRefresh:
        st->batches_refresh.fetch_add(1, std::memory_order_relaxed);
        break;
    }
    st->users_fetched.fetch_add(uids.size(), std::memory_order_relaxed);
    TimePoint started = st->options.clock->now();
    RecordsScope scope{std::move(room), st->accept_age(youngest_renewed)};
    auto call = st->source.records(uids, std::move(scope));
    ApiResult<std::vector<PrivilegeRecord>> fetched = co_await std::move(call);
    TimePoint ended = st->options.clock->now();
    BatchOutcome outcome;
    outcome.uids = std::move(uids);
    if (!fetched || fetched->size() != outcome.uids.size()) {
      st->batches_failed.fetch_add(1, std::memory_order_relaxed);
      outcome.error = fetched ? ApiError::unavailable("aggregator_unavailable",
                                                      "The privilege aggregator's answer is malformed.")
                              : fetched.error();
    } else {
      outcome.records.reserve(fetched->size());
      for (auto& record : *fetched) {
        // A shared record is as old as when its batch began elsewhere.
        TimePoint fetched_at = started - std::chrono::duration_cast<Duration>(record.age);
        outcome.records.push_back(std::make_shared<const CachedRecord>(
            CachedRecord{std::move(record), fetched_at, ended - started, seq}));
      }
    }
    st->store(outcome, flight);
    co_return outcome;
  }
};

PrivilegeCache::PrivilegeCache(PrivilegeSource& source, PrivilegeCacheOptions options)
    : state_(std::make_shared<State>(source, std::move(options))) {}

PrivilegeCache::~PrivilegeCache() = default;

namespace {

// A get()'s plan, made under the shards' locks: what it takes as it is,
// what it fetches itself, what it awaits from others' batches.
struct Plan {
  std::vector<std::size_t> mine;                                           // indexes it fetches and awaits
  std::vector<std::pair<std::size_t, std::shared_ptr<BatchLoad>>> joined;  // indexes others fetch
  // kUseValid: what each renewed index may fall back to if its batch fails
  // (a record still within its TTL); null where there is none.
  std::vector<std::shared_ptr<const CachedRecord>> fallback;
  bool any_new = false;
  bool any_invalidated = false;
  bool any_due = false;
  Duration youngest_renewed = Duration::max();  // the youngest record held here that the batch renews
};

}  // namespace

asio::awaitable<ApiResult<PageRecords>> PrivilegeCache::get(std::vector<std::string> uids, RecordNeed need,
                                                            std::string room) {
  std::shared_ptr<State> st = state_;
  auto executor = co_await asio::this_coro::executor;
  TimePoint now = st->options.clock->now();
  PageRecords out;
  out.records.resize(uids.size());
  // This get()'s own batch, made when the first user needs it: most gets
  // after an event fetch nothing.
  std::shared_ptr<BatchLoad> mine;
  std::uint64_t mine_seq = 0;
  Plan plan;
  plan.fallback.resize(uids.size());
  // REQUIRES: the slot's shard lock. Renews index i: joins a batch in flight
  // for the user, or puts it into this get()'s own.
  auto renew = [&](std::size_t i, State::Slot& slot) {
    if (slot.flight && slot.flight_seq >= slot.invalidated_seq) {
      plan.joined.emplace_back(i, slot.flight);
    } else {
      if (!mine) {
        mine = BatchLoad::create(executor);
        mine_seq = st->next_batch_seq.fetch_add(1, std::memory_order_relaxed);
      }
      slot.flight = mine;
      slot.flight_seq = mine_seq;
      plan.mine.push_back(i);
    }
  };
  for (std::size_t i = 0; i < uids.size(); ++i) {
    State::Shard& shard = st->shard_for(uids[i]);
    sync::MutexLock lock(shard.mu);
    State::Slot& slot = st->touch(shard, uids[i]);
    const auto& record = slot.record;
    bool invalidated = record && record->batch_seq < slot.invalidated_seq;
    bool valid = record && !invalidated && !st->expired(*record, now);
    if (!valid) {
      // A user without a usable record came onto the page: new to it
      // (never fetched, evicted, or back after its records expired).
      // Renewing records the page already shows is a refresh.
      if (invalidated) {
        plan.any_invalidated = true;
      } else if (!record || need == RecordNeed::kUseValid) {
        plan.any_new = true;
      }
      renew(i, slot);
      continue;
    }
    // A page built from a record is fresh for no longer than the record,
    // less its jitter: one built from a due record would expire before its
    // own refresh could end. So due records are renewed, and awaited.
    bool due = st->due(*record, now);
    bool old = now - record->fetched_at >= st->renew_age();
    if (due || (need == RecordNeed::kRefreshOld && old)) {
      plan.any_due = plan.any_due || due;
      if (need == RecordNeed::kUseValid) plan.fallback[i] = record;
      plan.youngest_renewed = std::min(plan.youngest_renewed, now - record->fetched_at);
      renew(i, slot);
      continue;
    }
    out.records[i] = record;
  }
  if (need == RecordNeed::kUseValid && plan.any_due) {
    // Take along the page's other users past the renew age: one batch per
    // TTL for the page again, not one per cohort of users fetched apart.
    for (std::size_t i = 0; i < uids.size(); ++i) {
      const auto record = out.records[i];
      if (!record || now - record->fetched_at < st->renew_age()) continue;
      State::Shard& shard = st->shard_for(uids[i]);
      sync::MutexLock lock(shard.mu);
      auto it = shard.slots.find(uids[i]);
      if (it == shard.slots.end() || it->second.flight) continue;
      plan.fallback[i] = record;
      out.records[i] = nullptr;
      plan.youngest_renewed = std::min(plan.youngest_renewed, now - record->fetched_at);
      renew(i, it->second);
    }
  }
  // A renewed index's record, or its fallback when the batch failed
  // (kUseValid only); false when there is neither.
  auto settle = [&](std::size_t i, const BatchOutcome& outcome, std::size_t at) {
    if (!outcome.error) {
      out.records[i] = outcome.records[at];
      return true;
    }
    out.records[i] = plan.fallback[i];
    return out.records[i] != nullptr;
  };
  if (!plan.mine.empty()) {
    std::vector<std::string> fetch_uids;
    fetch_uids.reserve(plan.mine.size());
    for (std::size_t i : plan.mine) fetch_uids.push_back(uids[i]);
    BatchReason reason = plan.any_new           ? BatchReason::kNewUsers
                         : plan.any_invalidated ? BatchReason::kPrivilegeEvent
                                                : BatchReason::kRefresh;
    mine->start([st, fetch_uids = std::move(fetch_uids), reason, flight = mine.get(), mine_seq,
                 room = std::move(room), youngest = plan.youngest_renewed]() mutable {
      return State::fetch(st, std::move(fetch_uids), reason, flight, mine_seq, std::move(room), youngest);
    });
    auto waiting = mine->wait();
    coalesce::Result<BatchOutcome> fetched = co_await std::move(waiting);
    if (!fetched.ok()) co_return api_error_of(fetched);
    for (std::size_t k = 0; k < plan.mine.size(); ++k) {
      if (!settle(plan.mine[k], *fetched.value, k)) co_return *fetched.value->error;
    }
  }
  if (!plan.joined.empty()) st->users_joined.fetch_add(plan.joined.size(), std::memory_order_relaxed);
  for (auto& [index, flight] : plan.joined) {
    auto waiting = flight->wait();
    coalesce::Result<BatchOutcome> fetched = co_await std::move(waiting);
    if (!fetched.ok()) co_return api_error_of(fetched);
    const BatchOutcome& outcome = *fetched.value;
    auto at = std::find(outcome.uids.begin(), outcome.uids.end(), uids[index]);
    if (!outcome.error && at == outcome.uids.end()) {
      co_return ApiError::unavailable("aggregator_unavailable", "A privilege batch lost a user.");
    }
    if (!settle(index, outcome, static_cast<std::size_t>(at - outcome.uids.begin())))
      co_return *outcome.error;
  }
  out.oldest_fetch = now;
  for (const auto& record : out.records) {
    out.oldest_fetch = std::min(out.oldest_fetch, record->fetched_at);
    out.lead = std::max(out.lead, record->batch_time);
  }
  co_return out;
}

void PrivilegeCache::invalidate(std::string_view uid) {
  State::Shard& shard = state_->shard_for(uid);
  sync::MutexLock lock(shard.mu);
  auto it = shard.slots.find(std::string(uid));
  if (it == shard.slots.end()) return;  // nothing cached: the next get() fetches it anyway
  // Every batch created from now on is numbered at least this.
  it->second.invalidated_seq = state_->next_batch_seq.load(std::memory_order_relaxed);
}

PrivilegeCacheStats PrivilegeCache::stats() const {
  PrivilegeCacheStats s;
  State& st = *state_;
  s.batches_new_users = st.batches_new_users.load(std::memory_order_relaxed);
  s.batches_refresh = st.batches_refresh.load(std::memory_order_relaxed);
  s.batches_privilege_event = st.batches_privilege_event.load(std::memory_order_relaxed);
  s.batches_failed = st.batches_failed.load(std::memory_order_relaxed);
  s.users_fetched = st.users_fetched.load(std::memory_order_relaxed);
  s.users_joined = st.users_joined.load(std::memory_order_relaxed);
  s.evictions = st.evictions.load(std::memory_order_relaxed);
  for (auto& shard : st.shards) {
    sync::MutexLock lock(shard.mu);
    s.entries += shard.slots.size();
    s.bytes += shard.bytes;
  }
  return s;
}

}  // namespace micq::serve
