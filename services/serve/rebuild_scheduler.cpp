#include "rebuild_scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "micq/sync/mutex.h"

namespace micq::serve {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct RebuildScheduler::State : std::enable_shared_from_this<RebuildScheduler::State> {
  struct PageState {
    int page = 0;
    int size = 0;
    bool dirty = false;   // an event arrived since the last rebuild began
    bool active = false;  // a rebuild is waiting or running (its coroutine owns the page's rebuilds)
    Clock::time_point last_start{};
    std::uint64_t loaded_seq = 0;  // when the page was last loaded, in load order
    std::int64_t version = -1;     // the room's version it was last built from (-1: not known)
  };

  struct RoomState {
    std::vector<PageState> pages;
    std::int64_t version = -1;  // the newest version heard of
  };

  State(asio::any_io_executor ex, std::chrono::milliseconds i, std::size_t cap, Rebuild r, StillCached s,
        RoomsWatch w)
      : executor(std::move(ex)),
        interval(i),
        max_pages(std::max<std::size_t>(1, cap)),
        rebuild(std::move(r)),
        still_cached(std::move(s)),
        rooms_watch(std::move(w)) {}

  const asio::any_io_executor executor;
  const std::chrono::milliseconds interval;
  const std::size_t max_pages;
  const Rebuild rebuild;
  const StillCached still_cached;
  const RoomsWatch rooms_watch;

  mutable sync::Mutex mu;
  std::unordered_map<std::string, RoomState> rooms MICQ_GUARDED_BY(mu);
  std::size_t pages MICQ_GUARDED_BY(mu) = 0;
  std::uint64_t next_seq MICQ_GUARDED_BY(mu) = 0;
  std::atomic<std::uint64_t> rebuilds_started{0};
  std::atomic<std::uint64_t> events_coalesced{0};

  PageState* find(const PageKey& key) MICQ_REQUIRES(mu) {
    auto room = rooms.find(key.room_id);
    if (room == rooms.end()) return nullptr;
    for (auto& page : room->second.pages) {
      if (page.page == key.page && page.size == key.size) return &page;
    }
    return nullptr;
  }

  void forget(const PageKey& key) MICQ_REQUIRES(mu) {
    auto room = rooms.find(key.room_id);
    if (room == rooms.end()) return;
    auto& pages_of_room = room->second.pages;
    auto it = std::find_if(pages_of_room.begin(), pages_of_room.end(),
                           [&](const PageState& p) { return p.page == key.page && p.size == key.size; });
    if (it == pages_of_room.end()) return;
    pages_of_room.erase(it);
    --pages;
    if (pages_of_room.empty()) erase_room(room);
  }

  // Returns the next room.
  std::unordered_map<std::string, RoomState>::iterator erase_room(
      std::unordered_map<std::string, RoomState>::iterator room) MICQ_REQUIRES(mu) {
    if (rooms_watch) rooms_watch(room->first, false);
    return rooms.erase(room);
  }

  // Forgets idle pages until at most 3/4 of the bound is used: first those
  // no longer cached, then the least recently loaded.
  void trim() MICQ_REQUIRES(mu) {
    std::size_t goal = max_pages - max_pages / 4;
    std::vector<std::pair<std::uint64_t, PageKey>> idle;
    for (auto room = rooms.begin(); room != rooms.end();) {
      auto& pages_of_room = room->second.pages;
      for (auto it = pages_of_room.begin(); it != pages_of_room.end();) {
        PageKey key{room->first, it->page, it->size};
        if (!it->active && !still_cached(key)) {
          it = pages_of_room.erase(it);
          --pages;
        } else {
          if (!it->active) idle.emplace_back(it->loaded_seq, std::move(key));
          ++it;
        }
      }
      room = pages_of_room.empty() ? erase_room(room) : std::next(room);
    }
    if (pages <= goal) return;
    std::sort(idle.begin(), idle.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [seq, key] : idle) {
      if (pages <= goal) break;
      forget(key);
    }
  }

  // Marks the pages of `room_id` that `page_needs` picks out of date (if
  // `room_wants` agrees, given the room's state) and starts a rebuild for
  // each that has none coming. False if `room_wants` refused.
  template <class RoomWants, class PageNeeds>
  bool mark(std::string_view room_id, RoomWants room_wants, PageNeeds page_needs) {
    std::vector<std::pair<PageKey, Clock::duration>> to_start;
    {
      sync::MutexLock lock(mu);
      auto room = rooms.find(std::string(room_id));
      if (room == rooms.end()) return true;  // no cached page: nothing to rebuild
      if (!room_wants(room->second)) return false;
      auto now = Clock::now();
      for (auto& page : room->second.pages) {
        if (!page_needs(page)) continue;
        page.dirty = true;
        if (page.active) {
          events_coalesced.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        page.active = true;
        Clock::duration delay = std::max(Clock::duration::zero(), page.last_start + interval - now);
        to_start.emplace_back(PageKey{room->first, page.page, page.size}, delay);
      }
    }
    // Outside the lock: co_spawn may run the rebuild's first steps inline
    // (a fresh strand over the io_context we are running on), and those lock.
    for (auto& [key, delay] : to_start) {
      asio::co_spawn(asio::make_strand(executor), run(shared_from_this(), std::move(key), delay),
                     asio::detached);
    }
    return true;
  }

  // The rebuilds of one page, one after another, for as long as events
  // keep marking it.
  static asio::awaitable<void> run(std::shared_ptr<State> st, PageKey key, Clock::duration delay) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
      if (delay > Clock::duration::zero()) {
        timer.expires_after(delay);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      {
        sync::MutexLock lock(st->mu);
        PageState* page = st->find(key);
        if (!page) co_return;
        page->dirty = false;
        page->last_start = Clock::now();
      }
      st->rebuilds_started.fetch_add(1, std::memory_order_relaxed);
      bool still_cached = true;
      try {
        auto rebuilding = st->rebuild(key);
        still_cached = co_await std::move(rebuilding);
      } catch (const std::exception& e) {
        spdlog::warn("page rebuild failed: {}", e.what());
      }
      sync::MutexLock lock(st->mu);
      PageState* page = st->find(key);
      if (!page) co_return;
      if (!still_cached) {
        st->forget(key);
        co_return;
      }
      if (!page->dirty) {
        page->active = false;
        co_return;
      }
      delay = page->last_start + st->interval - Clock::now();
    }
  }
};

RebuildScheduler::RebuildScheduler(asio::any_io_executor executor, std::chrono::milliseconds interval,
                                   std::size_t max_pages, Rebuild rebuild, StillCached still_cached,
                                   RoomsWatch rooms_watch)
    : state_(std::make_shared<State>(std::move(executor), interval, max_pages, std::move(rebuild),
                                     std::move(still_cached), std::move(rooms_watch))) {}

RebuildScheduler::~RebuildScheduler() {
  // The rooms still tracked stop being so (rebuilds in flight keep the
  // state, not the watcher's interest).
  sync::MutexLock lock(state_->mu);
  if (state_->rooms_watch) {
    for (const auto& [room, ignored] : state_->rooms) state_->rooms_watch(room, false);
  }
  state_->rooms.clear();
  state_->pages = 0;
}

void RebuildScheduler::page_cached(const PageKey& key, std::int64_t version) {
  State& st = *state_;
  bool behind = false;
  {
    sync::MutexLock lock(st.mu);
    auto [room, inserted] = st.rooms.try_emplace(key.room_id);
    if (inserted && st.rooms_watch) st.rooms_watch(key.room_id, true);
    State::PageState* page = st.find(key);
    if (!page) {
      room->second.pages.push_back(State::PageState{key.page, key.size});
      ++st.pages;
      page = &room->second.pages.back();
    }
    page->loaded_seq = ++st.next_seq;
    page->version = version;
    // Read before an event this scheduler has heard of, and stored after
    // that event marked the room's pages: nothing else would rebuild it.
    behind = version >= 0 && version < room->second.version;
    if (st.pages > st.max_pages) st.trim();
  }
  if (behind) {
    st.mark(
        key.room_id, [](State::RoomState&) { return true; },
        [&](const State::PageState& page) {
          return page.page == key.page && page.size == key.size && page.version <= version;
        });
  }
}

bool RebuildScheduler::is_new_version(std::string_view room_id, std::int64_t version) const {
  sync::MutexLock lock(state_->mu);
  auto room = state_->rooms.find(std::string(room_id));
  return room == state_->rooms.end() || version > room->second.version;
}

bool RebuildScheduler::room_changed(std::string_view room_id, std::optional<std::int64_t> version) {
  return state_->mark(
      room_id,
      [&](State::RoomState& room) {
        if (version) {
          if (*version <= room.version) return false;
          room.version = *version;
        }
        return true;
      },
      [](const State::PageState&) { return true; });
}

void RebuildScheduler::room_caught_up(std::string_view room_id, std::int64_t version) {
  state_->mark(
      room_id,
      [&](const State::RoomState& room) {
        // A version heard of already (this instance's own answer, or a
        // notification) marked the pages then: their rebuilds are coming.
        // One not heard of is not recorded: its notifications may still
        // come, and the privilege invalidation among them must not be
        // taken for one this instance applied (is_new_version).
        return version > room.version;
      },
      [&](const State::PageState& page) { return page.version < version; });
}

RebuildStats RebuildScheduler::stats() const {
  RebuildStats s;
  s.rebuilds_started = state_->rebuilds_started.load(std::memory_order_relaxed);
  s.events_coalesced = state_->events_coalesced.load(std::memory_order_relaxed);
  sync::MutexLock lock(state_->mu);
  s.pages_tracked = state_->pages;
  return s;
}

}  // namespace micq::serve
