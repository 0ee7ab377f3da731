// PrivilegeCache over a fake privilege source whose batches the test
// finishes: an io_context run by the test, one gate per batch, and a manual
// clock, so that every rule of the header (one batch per get, coalescing
// per user, refresh ahead, invalidation, failure, bounds) is checked
// without a network and without sleeping.
#include "privilege_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "micq/coalesce/testing/gate.h"
#include "micq/sync/mutex.h"

namespace micq::serve {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using coalesce::Duration;
using coalesce::ManualClock;
using coalesce::TimePoint;
using coalesce::testing::Gate;
using Uids = std::vector<std::string>;

// The record the fake returns for `uid` from its batch number `gen`.
std::string record_json(const std::string& uid, std::size_t gen) {
  return R"({"vip":{"uid":")" + uid + R"(","gen":)" + std::to_string(gen) + "}}";
}

Uids sorted(Uids uids) {
  std::sort(uids.begin(), uids.end());
  return uids;
}

// A PrivilegeSource whose batches the test finishes. It records the uids
// of every batch it is asked for (batch n is the n-th, from 0); while
// `hold` is set a batch waits on a gate of its own until the test opens it;
// a batch that begins while `fail` is set fails. Batch n's records are
// record_json(uid, n).
class FakePrivileges final : public PrivilegeSource {
 public:
  bool hold = true;  // set before the batches it applies to begin
  bool fail = false;

  asio::awaitable<ApiResult<std::string>> batch_body(std::vector<std::string> uids) override {
    ADD_FAILURE() << "the cache asks for records(), never for a raw batch";
    co_return ApiError::unavailable("aggregator_unavailable", "not used by the cache");
  }

  asio::awaitable<ApiResult<std::vector<PrivilegeRecord>>> records(std::vector<std::string> uids,
                                                                   RecordsScope) override {
    auto executor = co_await asio::this_coro::executor;
    std::size_t gen = 0;
    Gate* gate = nullptr;
    bool failing = false;
    {
      sync::MutexLock lock(mu_);
      gen = batches_.size();
      batches_.push_back(uids);
      failing = fail;
      if (hold) {
        gates_.push_back(std::make_unique<Gate>(executor));
        gate = gates_.back().get();
      } else {
        gates_.push_back(nullptr);
      }
    }
    if (gate) co_await gate->wait();
    if (failing) co_return ApiError::unavailable("aggregator_unavailable", "The fake aggregator is down.");
    std::vector<PrivilegeRecord> out(uids.size());
    for (std::size_t i = 0; i < uids.size(); ++i) out[i].json = record_json(uids[i], gen);
    co_return out;
  }

  // The uids of every batch asked for so far, in order.
  std::vector<Uids> batches() const {
    sync::MutexLock lock(mu_);
    return batches_;
  }
  std::size_t batch_count() const {
    sync::MutexLock lock(mu_);
    return batches_.size();
  }
  // Lets batch `n` finish. Single-threaded use (the io_context's thread).
  void open(std::size_t n) {
    sync::MutexLock lock(mu_);
    ASSERT_LT(n, gates_.size());
    ASSERT_NE(gates_[n], nullptr) << "batch " << n << " was not held";
    gates_[n]->open();
  }
  void open_all() {
    sync::MutexLock lock(mu_);
    for (auto& gate : gates_) {
      if (gate) gate->open();
    }
  }

 private:
  mutable sync::Mutex mu_;
  std::vector<Uids> batches_ MICQ_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Gate>> gates_ MICQ_GUARDED_BY(mu_);  // null for a batch not held
};

using Outcome = std::shared_ptr<std::optional<ApiResult<PageRecords>>>;

class PrivilegeCacheTest : public ::testing::Test {
 protected:
  PrivilegeCacheTest() {
    options.ttl = 1000ms;
    options.refresh_window_min = 100ms;
    options.refresh_window_factor = 2.0;
    options.refresh_window_ttl_share = 0;
    options.renew_share = 0.5;  // these tests speak of "half the TTL"
    options.shards = 1;
    options.clock = clock;
  }

  ~PrivilegeCacheTest() override {
    // Let every held batch end while its io_context and source are alive.
    source.open_all();
    poll();
  }

  PrivilegeCache& cache() {
    if (!cache_) cache_.emplace(source, options);
    return *cache_;
  }

  // Starts a get() on the test's io_context; the outcome is set once it
  // completes (poll() runs it).
  Outcome start_get(Uids uids, RecordNeed need) {
    auto out = std::make_shared<std::optional<ApiResult<PageRecords>>>();
    asio::co_spawn(
        ctx,
        [this, uids = std::move(uids), need, out]() mutable -> asio::awaitable<void> {
          auto getting = cache().get(std::move(uids), need);
          *out = co_await std::move(getting);
        },
        asio::detached);
    return out;
  }

  // Runs every handler that is ready, without waiting for any.
  void poll() {
    ctx.restart();
    ctx.poll();
  }

  // Batch `n` "takes" `takes`: the clock moves while it waits, then it ends.
  void finish(std::size_t n, Duration takes = 0ms) {
    clock->advance(takes);
    source.open(n);
    poll();
  }

  // One get() to completion: the batches it starts take `takes` and end;
  // batches already in flight stay held.
  PageRecords get(Uids uids, RecordNeed need = RecordNeed::kRefreshOld, Duration takes = 0ms) {
    std::size_t before = source.batch_count();
    Outcome out = start_get(std::move(uids), need);
    poll();
    if (!out->has_value()) {
      clock->advance(takes);
      for (std::size_t n = before; n < source.batch_count(); ++n) source.open(n);
      poll();
    }
    EXPECT_TRUE(out->has_value()) << "get() did not complete";
    if (!out->has_value()) return {};
    EXPECT_TRUE((*out)->has_value()) << (*out)->error().message;
    if (!(*out)->has_value()) return {};
    return std::move((*out)->value());
  }

  // The records of a get() that completed successfully.
  static const PageRecords& page_of(const Outcome& out) { return (*out)->value(); }

  static std::vector<std::string> jsons(const PageRecords& page) {
    std::vector<std::string> out;
    for (const auto& record : page.records) out.push_back(record ? record->record.json : "<null>");
    return out;
  }

  asio::io_context ctx;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  PrivilegeCacheOptions options;
  FakePrivileges source;
  std::optional<PrivilegeCache> cache_;
};

TEST_F(PrivilegeCacheTest, FirstGetFetchesEveryMissingUserInOneBatch) {
  PageRecords page = get({"u1", "u2", "u3"});
  EXPECT_EQ(source.batches(), (std::vector<Uids>{{"u1", "u2", "u3"}}));
  EXPECT_EQ(jsons(page), (Uids{record_json("u1", 0), record_json("u2", 0), record_json("u3", 0)}));
  PrivilegeCacheStats stats = cache().stats();
  EXPECT_EQ(stats.batches_new_users, 1u);
  EXPECT_EQ(stats.users_fetched, 3u);
  EXPECT_EQ(stats.entries, 3u);
}

TEST_F(PrivilegeCacheTest, GetWaitsForTheBatchOfMissingUsers) {
  Outcome out = start_get({"u1"}, RecordNeed::kUseValid);
  poll();
  EXPECT_FALSE(out->has_value()) << "a user with no record cannot be served before its batch ends";
  finish(0);
  ASSERT_TRUE(out->has_value() && (*out)->has_value());
  EXPECT_EQ(jsons(page_of(out)), (Uids{record_json("u1", 0)}));
}

TEST_F(PrivilegeCacheTest, GetWithinTheTtlFetchesNothingAndSharesTheRecords) {
  PageRecords first = get({"u1", "u2"});
  clock->advance(400ms);  // under half the TTL: not even kRefreshOld renews
  PageRecords refresh_old = get({"u1", "u2"}, RecordNeed::kRefreshOld);
  PageRecords use_valid = get({"u2", "u1"}, RecordNeed::kUseValid);
  EXPECT_EQ(source.batch_count(), 1u);
  ASSERT_EQ(refresh_old.records.size(), 2u);
  ASSERT_EQ(use_valid.records.size(), 2u);
  EXPECT_EQ(refresh_old.records[0].get(), first.records[0].get()) << "a hit shares the cached record";
  EXPECT_EQ(refresh_old.records[1].get(), first.records[1].get());
  EXPECT_EQ(use_valid.records[0].get(), first.records[1].get()) << "records come in the order asked";
  EXPECT_EQ(use_valid.records[1].get(), first.records[0].get());
}

TEST_F(PrivilegeCacheTest, ConcurrentGetsShareTheBatchForTheUsersTheyBothNeed) {
  Outcome a = start_get({"u1", "u2"}, RecordNeed::kRefreshOld);
  poll();
  Outcome b = start_get({"u2", "u3"}, RecordNeed::kRefreshOld);
  poll();
  EXPECT_EQ(source.batches(), (std::vector<Uids>{{"u1", "u2"}, {"u3"}}))
      << "the second get fetches only the user the first did not ask for";
  finish(1);
  EXPECT_FALSE(b->has_value()) << "u2 is still in the first get's batch";
  finish(0);
  ASSERT_TRUE(a->has_value() && (*a)->has_value());
  ASSERT_TRUE(b->has_value() && (*b)->has_value());
  EXPECT_EQ(jsons(page_of(a)), (Uids{record_json("u1", 0), record_json("u2", 0)}));
  EXPECT_EQ(jsons(page_of(b)), (Uids{record_json("u2", 0), record_json("u3", 1)}));
  EXPECT_EQ(page_of(a).records[1].get(), page_of(b).records[0].get())
      << "both hold the one record the batch brought";
  PrivilegeCacheStats stats = cache().stats();
  EXPECT_EQ(stats.users_joined, 1u);
  EXPECT_EQ(stats.users_fetched, 3u);
}

TEST_F(PrivilegeCacheTest, ByDefaultARefreshTakesTheNewcomersAlongIntoOneBatch) {
  options.renew_share = PrivilegeCacheOptions{}.renew_share;  // 10% of the TTL
  get({"u1", "u2"});                                          // batch 0 at t0
  clock->advance(600ms);
  get({"u1", "u2", "u3"}, RecordNeed::kUseValid);  // batch 1 at t0+600: u3 is new to the page
  clock->advance(250ms);                           // t0+850: u3 is 250 ms old
  get({"u1", "u2", "u3"}, RecordNeed::kRefreshOld);
  ASSERT_EQ(source.batch_count(), 3u);
  EXPECT_EQ(source.batches().back(), (Uids{"u1", "u2", "u3"}))
      << "the newcomer joins the page's batch: one batch per TTL again, not one per cohort";
  clock->advance(900ms);
  get({"u1", "u2", "u3"}, RecordNeed::kRefreshOld);
  EXPECT_EQ(source.batch_count(), 4u) << "and stays in it";
}

TEST_F(PrivilegeCacheTest, RefreshOldRenewsRecordsPastHalfTheTtlAndWaits) {
  PageRecords old_pair = get({"u1", "u2"});  // batch 0 at t0
  clock->advance(300ms);
  PageRecords young = get({"u3"});  // batch 1 at t0+300
  clock->advance(300ms);            // t0+600: u1, u2 are 600 ms old, u3 300 ms
  Outcome out = start_get({"u1", "u2", "u3"}, RecordNeed::kRefreshOld);
  poll();
  EXPECT_EQ(source.batches().back(), (Uids{"u1", "u2"})) << "only the records past half the TTL";
  EXPECT_FALSE(out->has_value()) << "kRefreshOld waits for the renewed records";
  finish(2);
  ASSERT_TRUE(out->has_value() && (*out)->has_value());
  EXPECT_EQ(jsons(page_of(out)), (Uids{record_json("u1", 2), record_json("u2", 2), record_json("u3", 1)}));
  EXPECT_NE(page_of(out).records[0].get(), old_pair.records[0].get());
  EXPECT_EQ(page_of(out).records[2].get(), young.records[0].get());
  EXPECT_EQ(cache().stats().batches_refresh, 1u);
}

TEST_F(PrivilegeCacheTest, UseValidRenewsDueRecordsAndTakesTheOldOnesAlong) {
  PageRecords u1 = get({"u1"});  // t0
  clock->advance(400ms);
  PageRecords u2 = get({"u2"});  // t0+400
  clock->advance(300ms);
  PageRecords u3 = get({"u3"});  // t0+700
  clock->advance(210ms);         // t0+910: u1 within the 100 ms window, u2 past half the TTL, u3 neither
  Outcome out = start_get({"u1", "u2", "u3"}, RecordNeed::kUseValid);
  poll();
  EXPECT_FALSE(out->has_value())
      << "a page built from a due record would expire before its refresh: the record is renewed, and awaited";
  ASSERT_EQ(source.batch_count(), 4u) << "one batch";
  EXPECT_EQ(sorted(source.batches()[3]), (Uids{"u1", "u2"}))
      << "the due record and the page's other record past the renew age, not the young one";
  finish(3);
  ASSERT_TRUE(out->has_value() && (*out)->has_value());
  EXPECT_EQ(jsons(page_of(out)), (Uids{record_json("u1", 3), record_json("u2", 3), record_json("u3", 2)}));
  EXPECT_EQ(page_of(out).records[2].get(), u3.records[0].get());
  EXPECT_EQ(cache().stats().batches_refresh, 1u);
}

TEST_F(PrivilegeCacheTest, UseValidStartsNoSecondRefreshWhileOneIsInFlight) {
  get({"u1"});
  clock->advance(950ms);
  get({"u1"}, RecordNeed::kUseValid);  // starts the refresh (held)
  ASSERT_EQ(source.batch_count(), 2u);
  clock->advance(20ms);
  get({"u1"}, RecordNeed::kUseValid);
  EXPECT_EQ(source.batch_count(), 2u);
}

TEST_F(PrivilegeCacheTest, RenewedDueRecordsAreUsedByLaterGets) {
  get({"u1", "u2"});
  clock->advance(950ms);
  PageRecords renewed = get({"u1", "u2"}, RecordNeed::kUseValid, 10ms);
  ASSERT_EQ(source.batch_count(), 2u);
  EXPECT_EQ(jsons(renewed), (Uids{record_json("u1", 1), record_json("u2", 1)}));
  clock->advance(100ms);  // the old records would have expired by now
  PageRecords later = get({"u1", "u2"}, RecordNeed::kUseValid);
  EXPECT_EQ(jsons(later), (Uids{record_json("u1", 1), record_json("u2", 1)}));
  EXPECT_EQ(source.batch_count(), 2u) << "the renewed records are young: nothing more to fetch";
}

TEST_F(PrivilegeCacheTest, UseValidStartsNoRefreshBeforeTheRefreshWindow) {
  get({"u1"});
  clock->advance(890ms);  // past half the TTL, 10 ms before the 100 ms window
  get({"u1"}, RecordNeed::kUseValid);
  EXPECT_EQ(source.batch_count(), 1u);
}

TEST_F(PrivilegeCacheTest, RefreshWindowGrowsWithTheBatchTime) {
  options.refresh_window_min = 20ms;
  get({"u1"}, RecordNeed::kRefreshOld, 100ms);  // window: max(20 ms, 2 x 100 ms) = 200 ms
  clock->advance(690ms);                        // 790 ms after the batch began: 10 ms before the window
  get({"u1"}, RecordNeed::kUseValid);
  EXPECT_EQ(source.batch_count(), 1u);
  clock->advance(20ms);  // 810 ms: within it
  get({"u1"}, RecordNeed::kUseValid);
  EXPECT_EQ(source.batch_count(), 2u);
}

TEST_F(PrivilegeCacheTest, RefreshWindowIsAtLeastItsShareOfTheTtl) {
  options.refresh_window_min = 20ms;
  options.refresh_window_ttl_share = 0.2;  // window: max(20 ms, 0.2 x 1000 ms, 2 x 0 ms) = 200 ms
  get({"u1"});
  clock->advance(790ms);
  get({"u1"}, RecordNeed::kUseValid);
  EXPECT_EQ(source.batch_count(), 1u);
  clock->advance(20ms);
  get({"u1"}, RecordNeed::kUseValid);
  EXPECT_EQ(source.batch_count(), 2u);
}

TEST_F(PrivilegeCacheTest, ExpiredRecordIsWaitedForEvenWithUseValid) {
  get({"u1"});
  clock->advance(1001ms);
  Outcome out = start_get({"u1"}, RecordNeed::kUseValid);
  poll();
  EXPECT_EQ(source.batch_count(), 2u);
  EXPECT_FALSE(out->has_value()) << "a record past its TTL is never served";
  finish(1);
  ASSERT_TRUE(out->has_value() && (*out)->has_value());
  EXPECT_EQ(jsons(page_of(out)), (Uids{record_json("u1", 1)}));
  // After an event, a user with no usable record came (back) onto the page.
  EXPECT_EQ(cache().stats().batches_new_users, 2u);
  EXPECT_EQ(cache().stats().batches_refresh, 0u);
}

TEST_F(PrivilegeCacheTest, InvalidatedUserIsFetchedAnewByTheNextGet) {
  get({"u1", "u2"});
  clock->advance(100ms);
  cache().invalidate("u1");
  Outcome out = start_get({"u1", "u2"}, RecordNeed::kUseValid);
  poll();
  EXPECT_EQ(source.batches().back(), (Uids{"u1"})) << "only the invalidated user";
  EXPECT_FALSE(out->has_value()) << "even kUseValid waits for an invalidated user";
  finish(1);
  ASSERT_TRUE(out->has_value() && (*out)->has_value());
  EXPECT_EQ(jsons(page_of(out)), (Uids{record_json("u1", 1), record_json("u2", 0)}));
  EXPECT_EQ(cache().stats().batches_privilege_event, 1u);
  get({"u1", "u2"}, RecordNeed::kUseValid);
  EXPECT_EQ(source.batch_count(), 2u) << "the record fetched after the event is valid";
}

TEST_F(PrivilegeCacheTest, InvalidatedUserDoesNotJoinABatchStartedBeforeTheInvalidate) {
  get({"u1"});
  clock->advance(600ms);
  Outcome before = start_get({"u1"}, RecordNeed::kRefreshOld);  // batch 1, held
  poll();
  ASSERT_EQ(source.batch_count(), 2u);
  cache().invalidate("u1");
  Outcome after = start_get({"u1"}, RecordNeed::kUseValid);
  poll();
  EXPECT_EQ(source.batches(), (std::vector<Uids>{{"u1"}, {"u1"}, {"u1"}}))
      << "the batch begun before the event may predate the change: fetch again";
  finish(1);
  ASSERT_TRUE(before->has_value());
  EXPECT_FALSE(after->has_value()) << "the get after the event waits for its own batch";
  finish(2);
  ASSERT_TRUE(after->has_value() && (*after)->has_value());
  EXPECT_EQ(jsons(page_of(after)), (Uids{record_json("u1", 2)}));
  PageRecords later = get({"u1"}, RecordNeed::kUseValid);
  EXPECT_EQ(jsons(later), (Uids{record_json("u1", 2)})) << "the record of the batch begun after the event";
  EXPECT_EQ(source.batch_count(), 3u);
}

TEST_F(PrivilegeCacheTest, BatchBegunBeforeAnInvalidateDoesNotReplaceTheRecordFetchedAfterIt) {
  get({"u1"});
  clock->advance(600ms);
  Outcome before = start_get({"u1"}, RecordNeed::kRefreshOld);  // batch 1, held
  poll();
  cache().invalidate("u1");
  Outcome after = start_get({"u1"}, RecordNeed::kUseValid);  // batch 2
  poll();
  ASSERT_EQ(source.batch_count(), 3u);
  finish(2);  // the newer batch lands first
  finish(1);
  ASSERT_TRUE(before->has_value() && after->has_value());
  PageRecords later = get({"u1"}, RecordNeed::kUseValid);
  EXPECT_EQ(jsons(later), (Uids{record_json("u1", 2)}));
  EXPECT_EQ(source.batch_count(), 3u);
}

TEST_F(PrivilegeCacheTest, FailedBatchGivesEveryWaiterTheErrorAndCachesNothing) {
  source.fail = true;
  Outcome a = start_get({"u1", "u2"}, RecordNeed::kRefreshOld);
  poll();
  Outcome b = start_get({"u2"}, RecordNeed::kUseValid);
  poll();
  ASSERT_EQ(source.batch_count(), 1u) << "the second get joins the first's batch";
  source.fail = false;
  finish(0);
  for (const Outcome& out : {a, b}) {
    ASSERT_TRUE(out->has_value());
    ASSERT_FALSE((*out)->has_value());
    EXPECT_EQ((*out)->error().code, "aggregator_unavailable");
    EXPECT_EQ((*out)->error().status, http::Status::service_unavailable);
  }
  EXPECT_EQ(cache().stats().batches_failed, 1u);
  PageRecords retry = get({"u1", "u2"});
  EXPECT_EQ(source.batches().back(), (Uids{"u1", "u2"})) << "the failure was not cached";
  EXPECT_EQ(jsons(retry), (Uids{record_json("u1", 1), record_json("u2", 1)}));
}

TEST_F(PrivilegeCacheTest, AFailedRenewalOfAValidRecordFallsBackToIt) {
  get({"u1"});
  clock->advance(950ms);
  source.fail = true;
  Outcome out = start_get({"u1"}, RecordNeed::kUseValid);  // u1 is due: renewed, held
  poll();
  source.fail = false;
  finish(1);
  EXPECT_EQ(cache().stats().batches_failed, 1u);
  ASSERT_TRUE(out->has_value() && (*out)->has_value()) << "a rebuild after an event still shows it";
  EXPECT_EQ(jsons(page_of(out)), (Uids{record_json("u1", 0)})) << "the record still within its TTL";
  get({"u1"}, RecordNeed::kUseValid);
  EXPECT_EQ(source.batch_count(), 3u) << "still due: the next kUseValid tries again";
}

TEST_F(PrivilegeCacheTest, AFailedRenewalOfAnExpiredRecordIsTheError) {
  get({"u1"});
  clock->advance(1001ms);
  source.fail = true;
  Outcome out = start_get({"u1"}, RecordNeed::kUseValid);
  poll();
  finish(1);
  ASSERT_TRUE(out->has_value());
  ASSERT_FALSE((*out)->has_value()) << "nothing valid to fall back to";
  EXPECT_EQ((*out)->error().code, "aggregator_unavailable");
}

TEST_F(PrivilegeCacheTest, CacheIsBoundedByEntries) {
  options.max_entries = 4;
  for (int i = 0; i < 10; ++i) {
    get({"u" + std::to_string(i)});
    PrivilegeCacheStats stats = cache().stats();
    EXPECT_LE(stats.entries, 4u) << "after u" << i;
  }
  EXPECT_EQ(cache().stats().evictions, 6u);
  std::size_t batches = source.batch_count();
  get({"u9"});
  EXPECT_EQ(source.batch_count(), batches) << "the most recent user is kept";
  get({"u0"});
  EXPECT_EQ(source.batch_count(), batches + 1) << "the least recent user was evicted";
}

TEST_F(PrivilegeCacheTest, PageLargerThanTheEntryBoundStillGetsEveryRecord) {
  options.max_entries = 4;
  PageRecords page = get({"u1", "u2", "u3", "u4", "u5", "u6"});
  EXPECT_EQ(jsons(page), (Uids{record_json("u1", 0), record_json("u2", 0), record_json("u3", 0),
                               record_json("u4", 0), record_json("u5", 0), record_json("u6", 0)}));
  EXPECT_LE(cache().stats().entries, 4u);
  EXPECT_GE(cache().stats().evictions, 2u);
}

TEST_F(PrivilegeCacheTest, CacheIsBoundedByBytes) {
  options.max_bytes = 1000;
  for (int i = 0; i < 10; ++i) {
    get({"u" + std::to_string(i)});
    PrivilegeCacheStats stats = cache().stats();
    EXPECT_LE(stats.bytes, 1000u) << "after u" << i;
    EXPECT_GT(stats.bytes, 0u);
  }
  PrivilegeCacheStats stats = cache().stats();
  EXPECT_LT(stats.entries, 10u);
  EXPECT_EQ(stats.evictions, 10u - stats.entries);
}

TEST_F(PrivilegeCacheTest, StatsCountBatchesByReason) {
  get({"u1", "u2"});  // new users
  clock->advance(600ms);
  get({"u1", "u2"}, RecordNeed::kRefreshOld);  // refresh
  cache().invalidate("u1");
  get({"u1", "u2"}, RecordNeed::kUseValid);  // privilege event
  cache().invalidate("u2");
  get({"u2", "u3"}, RecordNeed::kUseValid);  // new user and event: counted as new users
  PrivilegeCacheStats stats = cache().stats();
  EXPECT_EQ(stats.batches_new_users, 2u);
  EXPECT_EQ(stats.batches_refresh, 1u);
  EXPECT_EQ(stats.batches_privilege_event, 1u);
  EXPECT_EQ(stats.batches_failed, 0u);
  EXPECT_EQ(stats.users_fetched, 7u);
  EXPECT_EQ(stats.users_joined, 0u);
}

TEST_F(PrivilegeCacheTest, PageRecordsTellTheOldestFetchAndTheLongestBatch) {
  TimePoint t0 = clock->now();
  get({"u1"}, RecordNeed::kRefreshOld, 40ms);  // began at t0, took 40 ms
  clock->advance(100ms);
  get({"u2"}, RecordNeed::kRefreshOld, 10ms);  // began at t0+140, took 10 ms
  clock->advance(50ms);
  get({"u3"}, RecordNeed::kRefreshOld, 20ms);  // began at t0+200, took 20 ms
  PageRecords page = get({"u2", "u1", "u3"}, RecordNeed::kUseValid);
  ASSERT_EQ(page.records.size(), 3u);
  EXPECT_EQ(page.records[0]->fetched_at, t0 + 140ms);
  EXPECT_EQ(page.records[0]->batch_time, 10ms);
  EXPECT_EQ(page.records[1]->fetched_at, t0);
  EXPECT_EQ(page.records[1]->batch_time, 40ms);
  EXPECT_EQ(page.oldest_fetch, t0);
  EXPECT_EQ(page.lead, 40ms);
}

TEST_F(PrivilegeCacheTest, EmptyPageNeedsNoBatchAndIsFetchedNow) {
  PageRecords page = get({});
  EXPECT_TRUE(page.records.empty());
  EXPECT_EQ(page.oldest_fetch, clock->now());
  EXPECT_EQ(page.lead, 0ms);
  EXPECT_EQ(source.batch_count(), 0u);
}

// Gets on strands of a four-thread io_context, batches answered at once:
// every get ends with the records of its own users (run under TSan).
TEST(PrivilegeCacheThreads, ConcurrentGetsOnManyThreadsGetTheirOwnUsers) {
  asio::io_context ctx;
  auto clock = std::make_shared<ManualClock>();
  FakePrivileges source;
  source.hold = false;
  PrivilegeCacheOptions options;
  options.ttl = 1000ms;
  options.max_entries = 16;
  options.shards = 4;
  options.clock = clock;
  PrivilegeCache cache(source, options);
  constexpr int kGets = 400;
  std::vector<std::optional<ApiResult<PageRecords>>> outcomes(kGets);
  std::vector<Uids> asked(kGets);
  for (int g = 0; g < kGets; ++g) {
    for (int k = 0; k < 5; ++k) asked[g].push_back("u" + std::to_string((g * 7 + k * 3) % 24));
    RecordNeed need = g % 2 ? RecordNeed::kUseValid : RecordNeed::kRefreshOld;
    asio::co_spawn(
        asio::make_strand(ctx),
        [&cache, &outcomes, &asked, g, need]() -> asio::awaitable<void> {
          auto getting = cache.get(asked[g], need);
          outcomes[g] = co_await std::move(getting);
        },
        asio::detached);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&ctx] { ctx.run(); });
  for (int step = 0; step < 50; ++step) clock->advance(30ms);  // races with the gets, as the clock may
  for (auto& thread : threads) thread.join();
  for (int g = 0; g < kGets; ++g) {
    ASSERT_TRUE(outcomes[g].has_value()) << "get " << g;
    ASSERT_TRUE(outcomes[g]->has_value()) << "get " << g;
    const PageRecords& page = outcomes[g]->value();
    ASSERT_EQ(page.records.size(), asked[g].size());
    for (std::size_t i = 0; i < asked[g].size(); ++i) {
      nlohmann::json record = nlohmann::json::parse(page.records[i]->record.json);
      EXPECT_EQ(record["vip"]["uid"], asked[g][i]) << "get " << g;
    }
  }
  PrivilegeCacheStats stats = cache.stats();
  EXPECT_LE(stats.entries, 16u);
  EXPECT_EQ(stats.batches_new_users + stats.batches_refresh + stats.batches_privilege_event,
            source.batch_count());
}

}  // namespace
}  // namespace micq::serve
