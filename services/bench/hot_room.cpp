#include "hot_room.h"

#include <algorithm>

namespace micq::bench {

namespace {
// Opening gifts: everyone else's below kCoreOpeningGift, the core's above
// it, so the core is the top of the ranking from the start.
constexpr std::int64_t kCoreOpeningGift = 100'000;
}  // namespace

RoomMembers::RoomMembers(Options options) : options_(options), rng_(options.seed) {
  int members = std::max(0, options_.initial_members);
  for (next_new_member_ = 0; next_new_member_ < members; ++next_new_member_)
    add(member_uid(next_new_member_));
  for (int k = 0; k < std::min(members, options_.core_size); ++k) core_.push_back(member_uid(k));
}

std::vector<std::string> RoomMembers::opening_events() const {
  std::mt19937_64 rng(options_.seed + 1);
  // Long-tailed, as in seeding_body: a few big spenders, many small ones.
  std::lognormal_distribution<double> coins(4.0, 1.5);
  std::lognormal_distribution<double> core_coins(8.0, 1.0);
  const int members = std::max(0, options_.initial_members);
  constexpr int kMembersPerRequest = kEventsPerRequest / 2;  // an enter and a gift each
  std::vector<std::string> bodies;
  for (int first = 0; first < members; first += kMembersPerRequest) {
    std::string body = R"({"events":[)";
    for (int k = first; k < std::min(members, first + kMembersPerRequest); ++k) {
      bool core = k < options_.core_size;
      auto gift = core ? kCoreOpeningGift + static_cast<std::int64_t>(std::min(core_coins(rng), 1e8))
                       : 1 + static_cast<std::int64_t>(std::min(coins(rng), kCoreOpeningGift - 2.0));
      if (k > first) body += ',';
      body += event_body(EventType::kEnter, member_uid(k), 0) + ',' +
              event_body(EventType::kGift, member_uid(k), gift);
    }
    bodies.push_back(body + "]}");
  }
  return bodies;
}

RoomEvent RoomMembers::pick(EventType type) {
  if (type == EventType::kEnter || members_.empty()) {
    std::string uid = member_uid(next_new_member_++);
    add(uid);
    return {EventType::kEnter, uid};
  }
  if (type == EventType::kExit) {
    std::uniform_int_distribution<std::size_t> any(0, members_.size() - 1);
    std::size_t index = any(rng_);
    std::string uid = members_[index];
    remove_at(index);
    return {EventType::kExit, uid};
  }
  if (type == EventType::kGift && !core_.empty() &&
      std::bernoulli_distribution(options_.core_gift_share)(rng_)) {
    std::uniform_int_distribution<std::size_t> supporter(0, core_.size() - 1);
    return {type, core_[supporter(rng_)]};
  }
  return {type, random_member()};
}

const std::string& RoomMembers::random_member() {
  std::uniform_int_distribution<std::size_t> any(0, members_.size() - 1);
  return members_[any(rng_)];
}

void RoomMembers::add(std::string uid) {
  position_.emplace(uid, members_.size());
  members_.push_back(std::move(uid));
}

void RoomMembers::remove_at(std::size_t index) {
  std::string uid = std::move(members_[index]);
  position_.erase(uid);
  if (index + 1 != members_.size()) {
    members_[index] = std::move(members_.back());
    position_[members_[index]] = index;
  }
  members_.pop_back();
  auto in_core = std::find(core_.begin(), core_.end(), uid);
  if (in_core == core_.end()) return;
  // The next big spender: a random member not in the core already (a few
  // draws, the core being a small share of a busy room; else the first).
  auto outside_core = [this](const std::string& uid) {
    return std::find(core_.begin(), core_.end(), uid) == core_.end();
  };
  for (int attempt = 0; attempt < 16 && !members_.empty(); ++attempt) {
    const std::string& candidate = random_member();
    if (outside_core(candidate)) {
      *in_core = candidate;
      return;
    }
  }
  auto first = std::find_if(members_.begin(), members_.end(), outside_core);
  if (first != members_.end()) {
    *in_core = *first;
    return;
  }
  core_.erase(in_core);
}

}  // namespace micq::bench
