// The body of GET /v1/rooms/{room_id}/mic-queue (SPEC §2), built from one
// page of the room's ranking and the aggregator's answer for its uids.
//
// Two engines, to reproduce the write-up's library swap:
//  * kFast: RapidJSON's writer streams the page and splices each user's
//    privileges as the raw JSON text the aggregator sent (located with
//    simdjson on-demand): no record is parsed into a tree or re-serialized;
//  * kBaseline: nlohmann::json parses the whole answer into a document,
//    builds the page as a document and dumps it (the "before").
// Both produce the same JSON value.
#ifndef MICQ_SERVE_PAGE_BODY_H_
#define MICQ_SERVE_PAGE_BODY_H_

#include <boost/system/result.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "micq/service/serve_modes.h"

namespace micq::serve {

struct RankEntry {
  std::string uid;
  double score = 0;
};

// What one pipelined Redis round trip returns for a page.
struct RankPage {
  std::vector<RankEntry> entries;  // ZREVRANGE order
  std::int64_t total = 0;          // ZCARD
  std::int64_t version = 0;        // GET ver (absent = 0)
};

struct PageRequest {
  std::string_view room_id;
  int page = 0;
  int size = 10;
};

using service::JsonEngine;  // --json: fast or baseline

// `aggregator_body` is {"users":{...},"degraded_kinds":[...]}, or empty for
// an empty page (no aggregator call). The fast engine pads it in place.
boost::system::result<std::string, std::string> build_page_body(JsonEngine engine, const PageRequest& request,
                                                                const RankPage& page,
                                                                std::string& aggregator_body);

// The same body from records kept per user: `privileges[i]` is entry i's
// privileges object as raw JSON ("{}" for none), `degraded_kinds` the kinds
// missing from any of them. The fast engine splices the records as they
// are; the baseline parses each into a document.
boost::system::result<std::string, std::string> assemble_page_body(
    JsonEngine engine, const PageRequest& request, const RankPage& page,
    const std::vector<std::string_view>& privileges, const std::vector<std::string>& degraded_kinds);

}  // namespace micq::serve

#endif  // MICQ_SERVE_PAGE_BODY_H_
