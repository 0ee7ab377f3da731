// Response shaping for a mic-queue page (SPEC §2): 304 on a matching
// If-None-Match, the gzip variant when accepted, ETag, Cache-Control, Vary,
// and Warning + Age on a stale answer. Pure: no I/O, no state.
#ifndef MICQ_SERVE_RESPONSE_H_
#define MICQ_SERVE_RESPONSE_H_

#include <chrono>
#include <string>

#include "micq/http/message.h"
#include "page.h"

namespace micq::serve {

struct ResponseOptions {
  std::string cache_control;  // "max-age=<ttl s, at least 1>"
  int gzip_level = 1;         // 0: never compress
  // Names this serve instance in every page answer (X-Micq-Instance), so a
  // client behind a load balancer can tell which instance answered; empty:
  // no header.
  std::string instance;
};

// "max-age=<ttl in whole seconds, at least 1>"
std::string cache_control_for(std::chrono::milliseconds ttl);

http::Response page_response(const Page& page, const http::Request& request, bool stale,
                             std::chrono::nanoseconds age, const ResponseOptions& options);

}  // namespace micq::serve

#endif  // MICQ_SERVE_RESPONSE_H_
