#include "micq/coalesce/internal/hit_view.h"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace micq::coalesce::internal {
namespace {

using namespace std::chrono_literals;
using Entry = CacheEntry<std::string>;
using Views = HitViews<std::string, std::string>;

constexpr std::size_t kMaxEntries = 100;

// An entry as the cache leaves it after a load of `value`.
std::shared_ptr<Entry> stored(const std::string& value) {
  auto entry = std::make_shared<Entry>();
  entry->value = std::make_shared<const std::string>(value);
  entry->built_at = TimePoint{} + 1s;
  entry->fresh_until = TimePoint{} + 2s;
  entry->refresh_at = TimePoint{} + 1800ms;
  entry->load_time = 10ms;
  return entry;
}

// What the cache does to an entry whose value it replaces.
void replace(Entry& entry, const std::string& value) {
  entry.value = std::make_shared<const std::string>(value);
  entry.fresh_until += 1s;
  entry.version.fetch_add(1, std::memory_order_release);
}

class HitViewTest : public ::testing::Test {
 protected:
  std::shared_ptr<int> cache_state = std::make_shared<int>(0);  // stands for the cache's state
  Views views{cache_state};
};

TEST_F(HitViewTest, NothingRecordedFindsNothing) { EXPECT_EQ(views.local().find("room"), nullptr); }

TEST_F(HitViewTest, ARecordServesTheEntryAsItWasRecorded) {
  auto entry = stored("v1");
  views.local().remember("room", entry, kMaxEntries);
  const SeenEntry<std::string>* seen = views.local().find("room");
  ASSERT_NE(seen, nullptr);
  EXPECT_EQ(seen->value.get(), entry->value.get());  // the one shared value, not a copy
  EXPECT_EQ(seen->built_at, entry->built_at);
  EXPECT_EQ(seen->fresh_until, entry->fresh_until);
  EXPECT_EQ(seen->refresh_at, entry->refresh_at);
  EXPECT_EQ(seen->load_time, entry->load_time);
}

TEST_F(HitViewTest, AReplacedValueMakesTheRecordStale) {
  auto entry = stored("v1");
  views.local().remember("room", entry, kMaxEntries);
  replace(*entry, "v2");
  EXPECT_EQ(views.local().find("room"), nullptr);
}

TEST_F(HitViewTest, ARecordRemadeAfterAReplacementServesTheNewValue) {
  auto entry = stored("v1");
  views.local().remember("room", entry, kMaxEntries);
  replace(*entry, "v2");
  views.local().remember("room", entry, kMaxEntries);
  const SeenEntry<std::string>* seen = views.local().find("room");
  ASSERT_NE(seen, nullptr);
  EXPECT_EQ(*seen->value, "v2");
  EXPECT_EQ(seen->fresh_until, entry->fresh_until);
}

TEST_F(HitViewTest, ADroppedEntryIsNotServedThoughTheRecordKeepsItReadable) {
  auto entry = stored("v1");
  views.local().remember("room", entry, kMaxEntries);
  entry->version.fetch_add(1, std::memory_order_release);  // evicted or invalidated
  entry.reset();                                           // and gone from the map
  EXPECT_EQ(views.local().find("room"), nullptr);
}

TEST_F(HitViewTest, CopiesOfAServedValueLeaveTheSharedCountAlone) {
  auto entry = stored("v1");
  views.local().remember("room", entry, kMaxEntries);
  long shared_count = entry->value.use_count();
  std::shared_ptr<const std::string> first = views.local().find("room")->value;
  std::shared_ptr<const std::string> second = first;
  EXPECT_EQ(entry->value.use_count(), shared_count);
  EXPECT_EQ(*second, "v1");
}

TEST_F(HitViewTest, AValueServedOutlivesItsReplacement) {
  auto entry = stored("v1");
  views.local().remember("room", entry, kMaxEntries);
  std::shared_ptr<const std::string> served = views.local().find("room")->value;
  replace(*entry, "v2");
  views.local().remember("room", entry, kMaxEntries);  // drops the thread's owner of v1
  EXPECT_EQ(*served, "v1");
}

TEST_F(HitViewTest, AFullViewIsEmptiedBeforeItRecordsMore) {
  auto a = stored("a"), b = stored("b"), c = stored("c");
  views.local().remember("a", a, 2);
  views.local().remember("b", b, 2);
  EXPECT_EQ(views.local().size(), 2u);
  views.local().remember("c", c, 2);
  EXPECT_EQ(views.local().size(), 1u);
  EXPECT_EQ(views.local().find("a"), nullptr);
  EXPECT_NE(views.local().find("c"), nullptr);
}

TEST_F(HitViewTest, EachThreadHasItsOwnView) {
  auto entry = stored("v1");
  views.local().remember("room", entry, kMaxEntries);
  long references_with_one_view = entry->value.use_count();
  bool other_found_before = true, other_found_after = false;
  long references_with_two_views = 0;
  std::thread other([&] {
    other_found_before = views.local().find("room") != nullptr;
    views.local().remember("room", entry, kMaxEntries);
    other_found_after = views.local().find("room") != nullptr;
    references_with_two_views = entry->value.use_count();
  });
  other.join();
  EXPECT_FALSE(other_found_before) << "a thread saw another thread's record";
  EXPECT_TRUE(other_found_after);
  // Each thread's record holds the value through its own owner.
  EXPECT_EQ(references_with_two_views, references_with_one_view + 1);
  // The other thread's view went with it; this thread's is untouched.
  EXPECT_EQ(entry->value.use_count(), references_with_one_view);
  EXPECT_NE(views.local().find("room"), nullptr);
}

TEST_F(HitViewTest, AReplacementOnOneThreadStalesTheRecordOfAnother) {
  auto entry = stored("v1");
  std::promise<void> recorded, replaced;
  std::future<void> replaced_done = replaced.get_future();
  bool other_served_stale = true;
  std::string other_value_after;
  std::thread other([&] {
    views.local().remember("room", entry, kMaxEntries);
    recorded.set_value();
    replaced_done.wait();
    other_served_stale = views.local().find("room") != nullptr;
    views.local().remember("room", entry, kMaxEntries);
    other_value_after = *views.local().find("room")->value;
  });
  recorded.get_future().wait();
  replace(*entry, "v2");  // the other thread waits meanwhile, as it would on the shard's lock
  replaced.set_value();
  other.join();
  EXPECT_FALSE(other_served_stale) << "a record made at v1 was served after v2 was stored";
  EXPECT_EQ(other_value_after, "v2");
}

TEST_F(HitViewTest, ViewsOfTwoCachesOnOneThreadAreApart) {
  auto other_state = std::make_shared<int>(0);
  Views other_views{other_state};
  auto entry = stored("v1");
  views.local().remember("room", entry, kMaxEntries);
  EXPECT_EQ(other_views.local().find("room"), nullptr);
  // Back to the first cache: its view is the one it had, not a new one.
  EXPECT_NE(views.local().find("room"), nullptr);
}

TEST_F(HitViewTest, AViewOfADestroyedCacheIsFreedWhenTheThreadOpensAnother) {
  auto entry = stored("v1");
  auto gone_state = std::make_shared<int>(0);
  std::optional<Views> gone_views(std::in_place, gone_state);
  gone_views->local().remember("room", entry, kMaxEntries);
  EXPECT_EQ(entry.use_count(), 2);  // here and in the view
  gone_views.reset();
  gone_state.reset();
  EXPECT_EQ(entry.use_count(), 2);  // nothing has looked yet
  auto new_state = std::make_shared<int>(0);
  Views new_views{new_state};
  new_views.local();
  EXPECT_EQ(entry.use_count(), 1);
}

}  // namespace
}  // namespace micq::coalesce::internal
