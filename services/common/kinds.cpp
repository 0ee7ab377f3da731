#include "micq/service/kinds.h"

#include <algorithm>
#include <array>
#include <charconv>

namespace micq::service {
namespace {

constexpr std::array<std::string_view, 24> kBuiltin = {
    "avatar_frame",    "certification",   "medal",         "level",       "vip",
    "noble",           "badge",           "fan_club",      "guardian",    "title",
    "entrance_effect", "chat_bubble",     "nameplate",     "honor_wall",  "season_rank",
    "family",          "cp_relation",     "achievement",   "voice_skin",  "gift_wall",
    "room_admin",      "verified_anchor", "top_supporter", "activity_tag"};

using KindsResult = boost::system::result<std::vector<std::string>, std::string>;

KindsResult fail(std::string why) { return KindsResult(boost::system::in_place_error, std::move(why)); }

}  // namespace

std::span<const std::string_view> builtin_kinds() { return kBuiltin; }

KindsResult parse_kinds(std::string_view flag) {
  if (flag.empty()) return fail("--kinds is empty");
  unsigned count = 0;
  auto [end, ec] = std::from_chars(flag.data(), flag.data() + flag.size(), count);
  if (ec == std::errc() && end == flag.data() + flag.size()) {
    if (count == 0 || count > kBuiltin.size()) {
      return fail("--kinds must be 1.." + std::to_string(kBuiltin.size()) + ", got " + std::string(flag));
    }
    return std::vector<std::string>(kBuiltin.begin(), kBuiltin.begin() + count);
  }
  std::vector<std::string> kinds;
  while (true) {
    auto comma = flag.find(',');
    std::string_view name = flag.substr(0, comma);
    if (std::find(kBuiltin.begin(), kBuiltin.end(), name) == kBuiltin.end()) {
      return fail("--kinds names an unknown kind '" + std::string(name) + "'");
    }
    if (std::find(kinds.begin(), kinds.end(), name) != kinds.end()) {
      return fail("--kinds names '" + std::string(name) + "' twice");
    }
    kinds.emplace_back(name);
    if (comma == std::string_view::npos) break;
    flag.remove_prefix(comma + 1);
  }
  return kinds;
}

}  // namespace micq::service
