// DemoControl: what the demo page needs beyond the list (SPEC §7, issue
// 14): the numbers for its chart and the controls that show micq's
// promises at work. `micq up` runs it on a loopback port of its own, on its
// own thread and io_context; the page, served by serve, calls it
// cross-origin (every answer allows any origin: it listens on loopback
// only and changes nothing but the demo).
//
//   GET  /stats                 serve's counters, summed over its
//                               instances (list requests, 304s,
//                               cache hits, page builds and rebuilds, load
//                               waits, stale serves), the aggregator's
//                               batches and downstream calls, the event
//                               rate, whether the aggregator is stopped
//   POST /events?per_second=R   the demo room's event rate (0.1 .. 200)
//   POST /aggregator/stop       SIGSTOP: it stops answering (serve serves
//   POST /aggregator/start      stale pages, then 503 past --max-stale-ms);
//                               SIGCONT
//   POST /privilege?uid=U       U's privileges change downstream (a sim
//                               bump) and in the room (a privilege event)
//
// Thread safety: the hooks run on the control thread; `events_per_second`
// and the aggregator's state are atomics the rest of up reads.
#ifndef MICQ_UP_DEMO_CONTROL_H_
#define MICQ_UP_DEMO_CONTROL_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "micq/http/server.h"

namespace micq::up {

struct DemoEndpoints {
  std::uint16_t serve = 0;  // the front door (haproxy before a fleet): events go here
  // The serve instances whose counters /stats sums; empty: serve.
  std::vector<std::uint16_t> serve_instances;
  std::uint16_t aggregator = 0;
  std::uint16_t sim = 0;
  pid_t aggregator_pid = -1;
  std::string room;
  std::string events_token;
};

class DemoControl {
 public:
  // Listens on 127.0.0.1, a free port. `events_per_second` is the demo
  // stream's rate, read by it and set here.
  DemoControl(DemoEndpoints endpoints, std::atomic<double>& events_per_second);
  ~DemoControl();  // stops the server and joins its thread
  DemoControl(const DemoControl&) = delete;
  DemoControl& operator=(const DemoControl&) = delete;

  // Binds and starts serving on its thread; the port, 0 if it cannot bind.
  std::uint16_t start();

  // SIGCONT if the page left the aggregator stopped (before up stops it).
  void release_aggregator();

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
};

}  // namespace micq::up

#endif  // MICQ_UP_DEMO_CONTROL_H_
