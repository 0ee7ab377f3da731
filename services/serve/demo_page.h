// The demo page (GET /demo?room=R): a live room's top bar — rank, uid,
// score, a few privilege badges — polling the list every 3 s with
// If-None-Match, beside a small panel of cache hits, loads and coalesced
// callers read from /metrics. One static page, no build step.
#ifndef MICQ_SERVE_DEMO_PAGE_H_
#define MICQ_SERVE_DEMO_PAGE_H_

#include <string_view>

namespace micq::serve {

std::string_view demo_page_html();

}  // namespace micq::serve

#endif  // MICQ_SERVE_DEMO_PAGE_H_
