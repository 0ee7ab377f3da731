// The modes of micq serve that other commands name too (bench starts serve
// with them): --strategy and --json, each with its one table of flag names.
//
// Example:
//   add_choice(*command, "strategy", flags.strategy, kStrategyNames, "direct, singleflight or cached");
//   args.push_back(std::string(name_of(kStrategyNames, flags.strategy)));  // back to serve's flag
//
// Thread safety: constants.
#ifndef MICQ_SERVICE_SERVE_MODES_H_
#define MICQ_SERVICE_SERVE_MODES_H_

#include <array>

#include "micq/service/named.h"

namespace micq::service {

// SPEC §1: direct (every request does the full work), singleflight
// (identical in-flight loads coalesced), cached (singleflight + TTL + §5).
enum class Strategy { kDirect, kSingleflight, kCached };

inline constexpr std::array<Named<Strategy>, 3> kStrategyNames = {{{"direct", Strategy::kDirect},
                                                                   {"singleflight", Strategy::kSingleflight},
                                                                   {"cached", Strategy::kCached}}};

// The JSON library a page body is built with: fast, or baseline (nlohmann::json).
enum class JsonEngine { kFast, kBaseline };

inline constexpr std::array<Named<JsonEngine>, 2> kJsonNames = {
    {{"fast", JsonEngine::kFast}, {"baseline", JsonEngine::kBaseline}}};

}  // namespace micq::service

#endif  // MICQ_SERVICE_SERVE_MODES_H_
