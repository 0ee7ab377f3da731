// Fuzz target: the query string of GET /v1/rooms/{room_id}/mic-queue
// through parse_page_query (services/serve/request_parsing.h), with serve's
// default sizes and two other --page-size / --max-page-size settings.
//
// Invariants (SPEC §2): an accepted query has page 0..999 and size
// 1..max_size, size the default when the query names none; writing it back
// as "page=P&size=S" parses to the same; a refusal names "page" or "size";
// what a smaller max accepts, a larger one accepts alike.
#include <cstdint>
#include <string>
#include <string_view>

#include "check.h"
#include "services/serve/request_parsing.h"

namespace {

using micq::serve::parse_page_query;

struct Sizes {
  int default_size;
  int max_size;
};
// serve's defaults first, then the edges a flag can set.
constexpr Sizes kSizes[] = {{10, 50}, {1, 1}, {20, 1000}};

// Whether a parameter is named at all, however malformed its value.
bool names(std::string_view query, std::string_view parameter) {
  while (true) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair.substr(0, pair.find('=')) == parameter) return true;
    if (amp == std::string_view::npos) return false;
    query.remove_prefix(amp + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view query(reinterpret_cast<const char*>(data), size);
  for (const Sizes& sizes : kSizes) {
    auto page = parse_page_query(query, sizes.default_size, sizes.max_size);
    if (!page) {
      const std::string& parameter = page.error().parameter;
      MICQ_FUZZ_CHECK(parameter == "page" || parameter == "size", "parameter '" + parameter + "'");
      MICQ_FUZZ_CHECK(page.error().message.find(parameter) != std::string::npos, page.error().message);
      MICQ_FUZZ_CHECK(names(query, parameter), "refused " + parameter + " the query does not name");
      continue;
    }
    MICQ_FUZZ_CHECK(page->page >= 0 && page->page <= 999, "page " + std::to_string(page->page));
    MICQ_FUZZ_CHECK(page->size >= 1 && page->size <= sizes.max_size, "size " + std::to_string(page->size));
    if (!names(query, "size")) MICQ_FUZZ_CHECK(page->size == sizes.default_size, "size without size=");
    std::string written = "page=" + std::to_string(page->page) + "&size=" + std::to_string(page->size);
    auto again = parse_page_query(written, sizes.default_size, sizes.max_size);
    MICQ_FUZZ_CHECK(again && again->page == page->page && again->size == page->size, written);
    auto wider = parse_page_query(query, sizes.default_size, 1000);
    MICQ_FUZZ_CHECK(wider && wider->page == page->page && wider->size == page->size, "max 1000 disagrees");
  }
  return 0;
}
