// The demo page (GET /demo?room=R[&control=URL]): a live room's list —
// rank, uid, score, a few privilege badges, rank changes sliding —
// polling the list every 3 s with If-None-Match and showing a stale or
// failing answer as such; beside it a chart of the last 60 s (client
// requests, page builds, aggregator batches, downstream calls per second)
// and counters. With `control` (micq up's demo control) the numbers cover
// the whole stack and the controls work (event rate, stop/start the
// aggregator, a privilege change). One static page, no build step.
#ifndef MICQ_SERVE_DEMO_PAGE_H_
#define MICQ_SERVE_DEMO_PAGE_H_

#include <string_view>

namespace micq::serve {

std::string_view demo_page_html();

}  // namespace micq::serve

#endif  // MICQ_SERVE_DEMO_PAGE_H_
