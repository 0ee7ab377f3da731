// Test helper shared by the page body tests: a page of three ranked users
// (page 2 of size 3 in a room of 42), with a fractional score Redis could
// hold, and a zero.
#ifndef MICQ_SERVE_TESTING_SAMPLE_PAGE_H_
#define MICQ_SERVE_TESTING_SAMPLE_PAGE_H_

#include "services/serve/page_body.h"

namespace micq::serve::testing {

inline RankPage sample_page() {
  RankPage page;
  page.entries = {{"u7", 5200}, {"u3", 99.5}, {"u1", 0}};
  page.total = 42;
  page.version = 7;
  return page;
}

}  // namespace micq::serve::testing

#endif  // MICQ_SERVE_TESTING_SAMPLE_PAGE_H_
