#include "event_stream.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cmath>
#include <optional>
#include <random>

#include "hot_room.h"
#include "json_field.h"
#include "micq/loadgen/arrival_schedule.h"

namespace micq::bench {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

double EventRates::total() const {
  double sum = 0;
  for (double rate : per_second) sum += rate;
  return sum;
}

boost::system::result<EventRates, std::string> EventRates::parse(std::string_view text) {
  EventRates rates;
  if (text.empty() || text == "none") return rates;
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    auto equals = item.find('=');
    if (equals == std::string_view::npos)
      return std::string("expected type=rate, got '") + std::string(item) + "'";
    std::string_view name = item.substr(0, equals);
    std::string_view value = item.substr(equals + 1);
    std::optional<EventType> type = service::value_named(service::kEventTypeNames, name);
    if (!type) return "unknown event type '" + std::string(name) + "'";
    double rate = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), rate);
    if (ec != std::errc() || end != value.data() + value.size() || !(rate >= 0 && rate <= 100'000))
      return "rate of " + std::string(name) + " must be a number 0..100000";
    rates.per_second[static_cast<std::size_t>(*type)] = rate;
  }
  return rates;
}

std::string EventRates::to_string() const {
  std::string out;
  for (std::size_t i = 0; i < per_second.size(); ++i) {
    if (per_second[i] <= 0) continue;
    char number[32];
    std::snprintf(number, sizeof number, "%g", per_second[i]);
    out += (out.empty() ? "" : ",") + std::string(service::kEventTypeNames[i].name) + "=" + number;
  }
  return out.empty() ? "none" : out;
}

std::string member_uid(int k) { return "v" + std::to_string(k); }

std::string event_body(EventType type, const std::string& uid, std::int64_t gift_value) {
  std::string body = R"({"type":")" + std::string(service::name_of(service::kEventTypeNames, type)) +
                     R"(","uid":")" + uid + "\"";
  if (type == EventType::kGift) body += R"(,"value":)" + std::to_string(gift_value);
  return body + "}";
}

std::string seeding_body(int members, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  // Gifts are long-tailed: a few big spenders, many small ones.
  std::lognormal_distribution<double> coins(4.0, 1.5);
  std::string body = R"({"events":[)";
  for (int k = 0; k < members; ++k) {
    if (k) body += ',';
    body += event_body(EventType::kEnter, member_uid(k), 0) + ',';
    body +=
        event_body(EventType::kGift, member_uid(k), 1 + static_cast<std::int64_t>(std::min(coins(rng), 1e8)));
  }
  return body + "]}";
}

namespace {

struct Shared {
  StalenessTracker& staleness;
  EventCounters& counters;
  std::uint64_t in_flight = 0;
  bool sending_done = false;
  std::unique_ptr<asio::steady_timer> all_done;
};

asio::awaitable<void> one_event(http::ClientPool& serve, http::ClientPool* sim,
                                std::shared_ptr<Shared> shared, std::string target, std::string body,
                                std::string bump_uid, std::size_t room) {
  using namespace std::chrono_literals;
  bool ok = true;
  if (!bump_uid.empty() && sim) {
    auto bump = sim->request(http::Method::post, "/admin/users/" + bump_uid + "/bump", "", 2s);
    auto bumped = co_await std::move(bump);
    ok = bumped && bumped->result_int() == 200;
    if (ok) ++shared->counters.bumps;
  }
  if (ok) {
    // From now until its answer, list answers may already show the event.
    shared->staleness.sent(room);
    auto call = serve.request(http::Method::post, std::move(target), std::move(body), 5s);
    auto reply = co_await std::move(call);
    auto at = Clock::now();
    auto version =
        reply && reply->result_int() == 200 ? json_int_field(reply->body(), "version") : std::nullopt;
    ok = version && *version >= 0;
    if (ok) {
      ++shared->counters.applied;
      shared->staleness.applied(room, *version, at);
    } else {
      shared->staleness.failed(room);
    }
  }
  if (!ok) ++shared->counters.failed;
  if (--shared->in_flight == 0 && shared->sending_done) shared->all_done->cancel();
}

}  // namespace

asio::awaitable<void> run_event_stream(http::ClientPool& serve, http::ClientPool* sim, EventPlan plan,
                                       StalenessTracker& staleness, EventCounters& counters) {
  double rate = plan.rates.total();
  if (rate <= 0 || plan.mix == nullptr || plan.mix->rooms.empty()) co_return;
  auto executor = co_await asio::this_coro::executor;
  auto shared = std::make_shared<Shared>(
      Shared{staleness, counters, 0, false,
             std::make_unique<asio::steady_timer>(executor, asio::steady_timer::time_point::max())});
  auto start = Clock::now();
  auto end = start + plan.duration;
  loadgen::ArrivalSchedule schedule(loadgen::ArrivalSchedule::Kind::kPoisson, rate, start, plan.seed);
  RoomPicker rooms(*plan.mix, /*random=*/true, plan.seed + 1);
  std::mt19937_64 rng(plan.seed + 2);
  std::discrete_distribution<std::size_t> pick_type(plan.rates.per_second.begin(),
                                                    plan.rates.per_second.end());
  std::lognormal_distribution<double> coins(3.0, 1.5);
  asio::steady_timer pace(executor);
  for (auto at = schedule.next(); at < end; at = schedule.next()) {
    pace.expires_at(at);
    co_await pace.async_wait(use_tuple);
    std::size_t room = rooms.next();
    const Room& chosen = plan.mix->rooms[room];
    std::string uid;
    EventType type = EventType::kEnter;
    if (room == 0 && plan.hot_room_members) {
      RoomEvent event = plan.hot_room_members->pick(static_cast<EventType>(pick_type(rng)));
      type = event.type;
      uid = std::move(event.uid);
    } else {
      int members = std::max(1, std::min(chosen.viewers, plan.members_per_room_cap));
      uid = member_uid(static_cast<int>(rng() % static_cast<std::uint64_t>(members)));
      type = static_cast<EventType>(pick_type(rng));
    }
    auto value = 1 + static_cast<std::int64_t>(std::min(coins(rng), 1e6));
    ++counters.sent;
    ++shared->in_flight;
    asio::co_spawn(
        executor,
        one_event(serve, sim, shared, "/v1/rooms/" + chosen.id + "/events", event_body(type, uid, value),
                  type == EventType::kPrivilege ? uid : std::string(), room),
        asio::detached);
  }
  shared->sending_done = true;
  if (shared->in_flight > 0) co_await shared->all_done->async_wait(use_tuple);
}

}  // namespace micq::bench
