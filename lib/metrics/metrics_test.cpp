// Metrics: request series counted per (route, status) and per Metrics,
// whichever series this thread counted last.
#include "micq/metrics/metrics.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>

namespace micq::metrics {
namespace {

// The value of one exposition line, e.g.
// micq_http_requests_total{route="a",status="200"} 3
std::string line_of(const std::string& text, const std::string& series) {
  auto at = text.find(series + " ");
  if (at == std::string::npos) return "";
  auto end = text.find('\n', at);
  return text.substr(at + series.size() + 1, end - at - series.size() - 1);
}

std::string requests(const Metrics& metrics, const std::string& route, unsigned status) {
  return line_of(metrics.render(), "micq_http_requests_total{route=\"" + route + "\",status=\"" +
                                       std::to_string(status) + "\"}");
}

TEST(MetricsTest, CountsEachRouteAndStatusApart) {
  Metrics metrics;
  for (int i = 0; i < 3; ++i) metrics.observe_request("a", 200, 0.001);
  metrics.observe_request("a", 404, 0.001);
  metrics.observe_request("b", 200, 0.001);
  metrics.observe_request("a", 200, 0.001);
  EXPECT_EQ(requests(metrics, "a", 200), "4");
  EXPECT_EQ(requests(metrics, "a", 404), "1");
  EXPECT_EQ(requests(metrics, "b", 200), "1");
}

TEST(MetricsTest, RouteNamesAreComparedNotTheirStorage) {
  // The same buffer holding another name must be another series.
  Metrics metrics;
  std::string route = "aa";
  metrics.observe_request(route, 200, 0.001);
  route[1] = 'b';
  metrics.observe_request(route, 200, 0.001);
  EXPECT_EQ(requests(metrics, "aa", 200), "1");
  EXPECT_EQ(requests(metrics, "ab", 200), "1");
}

TEST(MetricsTest, TwoMetricsOnOneThreadKeepTheirOwnCounts) {
  auto first = std::make_unique<Metrics>();
  Metrics second;
  first->observe_request("a", 200, 0.001);
  second.observe_request("a", 200, 0.001);
  first->observe_request("a", 200, 0.001);
  EXPECT_EQ(requests(*first, "a", 200), "2");
  EXPECT_EQ(requests(second, "a", 200), "1");
  // A Metrics made where the first one was is a new one: it starts at zero.
  first.reset();
  auto third = std::make_unique<Metrics>();
  third->observe_request("a", 200, 0.001);
  EXPECT_EQ(requests(*third, "a", 200), "1");
}

TEST(MetricsTest, ThreadsCountIntoTheSameSeries) {
  Metrics metrics;
  std::thread other([&] {
    for (int i = 0; i < 1000; ++i) metrics.observe_request("a", 200, 0.001);
  });
  for (int i = 0; i < 1000; ++i) metrics.observe_request("a", 200, 0.001);
  other.join();
  EXPECT_EQ(requests(metrics, "a", 200), "2000");
  std::string count =
      line_of(metrics.render(), "micq_http_request_duration_seconds_count{route=\"a\",status=\"200\"}");
  EXPECT_EQ(count, "2000");
}

TEST(MetricsTest, LatenciesFallInTheFirstBucketAtOrAboveThem) {
  Metrics metrics;
  metrics.observe_request("a", 200, 0.0001);  // exactly a bound: that bucket (le is "at most")
  metrics.observe_request("a", 200, 0.003);   // the 0.005 bucket
  metrics.observe_request("a", 200, 10);      // beyond every bound: +Inf only
  std::string text = metrics.render();
  auto bucket = [&](const std::string& le) {
    return line_of(text,
                   "micq_http_request_duration_seconds_bucket{route=\"a\",status=\"200\",le=\"" + le + "\"}");
  };
  EXPECT_EQ(bucket("0.0001"), "1");
  EXPECT_EQ(bucket("0.0025"), "1");
  EXPECT_EQ(bucket("0.005"), "2");
  EXPECT_EQ(bucket("5"), "2");
  EXPECT_EQ(bucket("+Inf"), "3");
  EXPECT_EQ(line_of(text, "micq_http_request_duration_seconds_count{route=\"a\",status=\"200\"}"), "3");
  EXPECT_DOUBLE_EQ(
      std::stod(line_of(text, "micq_http_request_duration_seconds_sum{route=\"a\",status=\"200\"}")),
      10.0031);
}

}  // namespace
}  // namespace micq::metrics
