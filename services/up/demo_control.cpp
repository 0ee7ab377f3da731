#include "demo_control.h"

#include <rapidjson/document.h>
#include <signal.h>

#include <algorithm>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/url/parse_query.hpp>
#include <chrono>
#include <cstdlib>
#include <string_view>

#include "micq/http/client.h"
#include "micq/http/message.h"
#include "micq/service/ids.h"

namespace micq::up {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using http::Method;
using http::Request;
using http::Response;
using http::Status;

namespace {

// The sum of the series of `name` in Prometheus text whose labels contain
// `filter` (every series of it when `filter` is empty).
double metric_sum(std::string_view text, std::string_view name, std::string_view filter = {}) {
  double sum = 0;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (!line.starts_with(name) || line.size() <= name.size()) continue;
    char next = line[name.size()];
    if (next != ' ' && next != '{') continue;
    if (!filter.empty() && line.find(filter) == std::string_view::npos) continue;
    std::size_t space = line.rfind(' ');
    sum += std::strtod(std::string(line.substr(space + 1)).c_str(), nullptr);
  }
  return sum;
}

// A number member of a JSON object such as {"batches_total":12,...}, 0 if
// it has none.
double json_number(const std::string& json, const char* key) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  if (!doc.IsObject()) return 0;
  auto member = doc.FindMember(key);
  return member != doc.MemberEnd() && member->value.IsNumber() ? member->value.GetDouble() : 0;
}

// The (percent-decoded) value of `name` in a query string, or "".
std::string query_value(std::string_view query, std::string_view name) {
  auto params = boost::urls::parse_query(query);
  if (!params) return "";
  auto found = params->find(name);
  return found == params->end() ? std::string() : (*found).value.decode();
}

Response allow_any_origin(Response response) {
  response.set(boost::beast::http::field::access_control_allow_origin, "*");
  response.set(boost::beast::http::field::cache_control, "no-store");
  return response;
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f", value);
  return text;
}

}  // namespace

struct DemoControl::State {
  State(DemoEndpoints e, std::atomic<double>& rate) : endpoints(std::move(e)), events_per_second(rate) {}
  const DemoEndpoints endpoints;
  std::atomic<double>& events_per_second;
  std::atomic<bool> aggregator_stopped{false};
  // Made on the control thread by its first request; `serve` has one pool
  // per instance.
  std::vector<std::unique_ptr<http::ClientPool>> serve;
  std::unique_ptr<http::ClientPool> aggregator, sim, serve_events;

  void clients(const asio::any_io_executor& executor) {
    if (aggregator) return;
    std::vector<std::uint16_t> instances = endpoints.serve_instances;
    if (instances.empty()) instances.push_back(endpoints.serve);
    for (std::uint16_t port : instances)
      serve.push_back(std::make_unique<http::ClientPool>(executor, http::Upstream{"127.0.0.1", port}));
    aggregator =
        std::make_unique<http::ClientPool>(executor, http::Upstream{"127.0.0.1", endpoints.aggregator});
    sim = std::make_unique<http::ClientPool>(executor, http::Upstream{"127.0.0.1", endpoints.sim});
    http::ClientOptions with_token;
    with_token.headers.emplace_back("Authorization", "Bearer " + endpoints.events_token);
    serve_events = std::make_unique<http::ClientPool>(executor, http::Upstream{"127.0.0.1", endpoints.serve},
                                                      with_token);
  }

  void set_aggregator_stopped(bool stop) {
    if (endpoints.aggregator_pid > 0) ::kill(endpoints.aggregator_pid, stop ? SIGSTOP : SIGCONT);
    aggregator_stopped.store(stop);
  }

  asio::awaitable<Response> stats(Request&) {
    clients(co_await asio::this_coro::executor);
    // Every instance's series, one after another: metric_sum adds them up.
    std::string metrics;
    bool serve_up = false;
    for (auto& instance : serve) {
      auto serve_call = instance->request(Method::get, "/metrics", "", 1s);
      auto serve_metrics = co_await std::move(serve_call);
      if (!serve_metrics) continue;
      serve_up = true;
      metrics += serve_metrics->body();
      metrics += '\n';
    }
    std::string aggregator_stats;
    if (!aggregator_stopped.load()) {  // a stopped aggregator would only time out
      auto aggregator_call = aggregator->request(Method::get, "/stats", "", 1s);
      auto answer = co_await std::move(aggregator_call);
      if (answer) aggregator_stats = std::string(answer->body());
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    std::string body = "{\"t\":" + std::to_string(ms);
    body += ",\"serve_up\":" + std::string(serve_up ? "true" : "false");
    body += ",\"instances\":" + std::to_string(serve.size());
    body += ",\"requests\":" + number(metric_sum(metrics, "micq_http_requests_total", "route=\"mic_queue\""));
    body += ",\"not_modified\":" +
            number(metric_sum(metrics, "micq_http_requests_total", "route=\"mic_queue\",status=\"304\""));
    body += ",\"hits\":" + number(metric_sum(metrics, "micq_cache_hits_total"));
    body += ",\"page_loads\":" + number(metric_sum(metrics, "micq_page_loads_started_total"));
    body += ",\"rebuilds\":" + number(metric_sum(metrics, "micq_page_rebuilds_total"));
    body += ",\"coalesced\":" + number(metric_sum(metrics, "micq_callers_coalesced_total"));
    body += ",\"load_waits\":" + number(metric_sum(metrics, "micq_load_waits_total"));
    body += ",\"stale_serves\":" + number(metric_sum(metrics, "micq_cache_stale_serves_total"));
    body += ",\"privilege_batches\":" + number(metric_sum(metrics, "micq_privilege_batches_total"));
    body += ",\"aggregator_up\":" + std::string(aggregator_stats.empty() ? "false" : "true");
    body += ",\"aggregator_batches\":" + number(json_number(aggregator_stats, "batches_total"));
    body += ",\"downstream_calls\":" + number(json_number(aggregator_stats, "downstream_requests_total"));
    body += ",\"aggregator_stopped\":" + std::string(aggregator_stopped.load() ? "true" : "false");
    char rate[32];
    std::snprintf(rate, sizeof rate, "%g", events_per_second.load());
    body += ",\"events_per_second\":" + std::string(rate) + "}";
    co_return allow_any_origin(http::json_response(Status::ok, std::move(body)));
  }

  asio::awaitable<Response> set_rate(Request& request) {
    double rate = std::strtod(query_value(request.query, "per_second").c_str(), nullptr);
    if (!(rate >= 0.1 && rate <= 200))
      co_return allow_any_origin(
          http::error_response(Status::bad_request, "bad_rate", "per_second must be 0.1 to 200."));
    events_per_second.store(rate);
    co_return allow_any_origin(http::json_response(Status::ok, std::string(R"({"status":"ok"})")));
  }

  asio::awaitable<Response> privilege(Request& request) {
    clients(co_await asio::this_coro::executor);
    std::string uid = query_value(request.query, "uid");
    if (!service::is_valid_id(uid))
      co_return allow_any_origin(
          http::error_response(Status::bad_request, "bad_uid", service::invalid_id_message("uid")));
    auto bump_call = sim->request(Method::post, "/admin/users/" + uid + "/bump", "", 1s);
    auto bumped = co_await std::move(bump_call);
    auto event_call = serve_events->request(Method::post, "/v1/rooms/" + endpoints.room + "/events",
                                            R"({"type":"privilege","uid":")" + uid + "\"}", 2s);
    auto event = co_await std::move(event_call);
    if (!bumped || !event || event->result() != Status::ok)
      co_return allow_any_origin(http::error_response(Status::service_unavailable, "not_applied",
                                                      "The sim or serve did not take the change."));
    co_return allow_any_origin(http::json_response(Status::ok, std::string(R"({"status":"ok"})")));
  }
};

DemoControl::DemoControl(DemoEndpoints endpoints, std::atomic<double>& events_per_second)
    : state_(std::make_shared<State>(std::move(endpoints), events_per_second)) {
  http::ServerOptions options;
  options.listen = {asio::ip::make_address("127.0.0.1"), 0};
  options.threads = 1;
  server_ = std::make_unique<http::Server>(options, std::make_shared<metrics::Metrics>());
  auto& router = server_->router();
  std::shared_ptr<State> st = state_;
  router.add(Method::get, "/stats", "stats", [st](Request& r) { return st->stats(r); });
  router.add(Method::post, "/events", "events", [st](Request& r) { return st->set_rate(r); });
  router.add(Method::post, "/privilege", "privilege", [st](Request& r) { return st->privilege(r); });
  router.add(
      Method::post, "/aggregator/stop", "aggregator_stop", [st](Request&) -> asio::awaitable<Response> {
        st->set_aggregator_stopped(true);
        co_return allow_any_origin(http::json_response(Status::ok, std::string(R"({"status":"stopped"})")));
      });
  router.add(
      Method::post, "/aggregator/start", "aggregator_start", [st](Request&) -> asio::awaitable<Response> {
        st->set_aggregator_stopped(false);
        co_return allow_any_origin(http::json_response(Status::ok, std::string(R"({"status":"started"})")));
      });
}

DemoControl::~DemoControl() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
  // The clients' sockets belong to the server's io_context: gone before it.
  state_->serve.clear();
  state_->aggregator.reset();
  state_->sim.reset();
  state_->serve_events.reset();
}

std::uint16_t DemoControl::start() {
  if (server_->bind()) return 0;
  thread_ = std::thread([this] { server_->run(); });
  return server_->local_endpoint().port();
}

void DemoControl::release_aggregator() {
  if (state_->aggregator_stopped.load()) state_->set_aggregator_stopped(false);
}

}  // namespace micq::up
