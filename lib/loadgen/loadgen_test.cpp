#include <gtest/gtest.h>

#include <random>

#include "micq/loadgen/arrival_schedule.h"
#include "micq/loadgen/latency_histogram.h"

namespace micq::loadgen {
namespace {

using namespace std::chrono_literals;

TEST(LatencyHistogram, ExactBelow256) {
  LatencyHistogram h;
  for (int v = 0; v < 256; ++v) h.record(std::chrono::microseconds(v));
  EXPECT_EQ(h.count(), 256u);
  EXPECT_EQ(h.percentile(0.5), 127u);
  EXPECT_EQ(h.percentile(1.0), 255u);
  EXPECT_EQ(h.min(), 0u);
}

TEST(LatencyHistogram, BucketsCoverEveryValueOnceWithBoundedError) {
  for (std::uint64_t v : {255ull, 256ull, 257ull, 1000ull, 65535ull, 1'000'000ull, 123'456'789ull}) {
    std::size_t i = LatencyHistogram::index_of(v);
    EXPECT_GE(LatencyHistogram::upper_bound_of(i), v);
    if (i > 0) {
      EXPECT_LT(LatencyHistogram::upper_bound_of(i - 1), v) << v;
    }
    EXPECT_LE(static_cast<double>(LatencyHistogram::upper_bound_of(i) - v),
              0.008 * static_cast<double>(v) + 1);
  }
}

TEST(LatencyHistogram, PercentilesOfAUniformSpread) {
  LatencyHistogram h;
  for (int v = 1; v <= 100'000; ++v) h.record(std::chrono::microseconds(v));
  EXPECT_NEAR(static_cast<double>(h.percentile(0.5)), 50'000, 50'000 * 0.008);
  EXPECT_NEAR(static_cast<double>(h.percentile(0.99)), 99'000, 99'000 * 0.008);
  EXPECT_NEAR(static_cast<double>(h.percentile(0.999)), 99'900, 99'900 * 0.008);
  EXPECT_EQ(h.percentile(1.0), 100'000u) << "never above the true maximum";
  EXPECT_EQ(h.max(), 100'000u);
  EXPECT_NEAR(h.mean(), 50'000.5, 0.01);
}

TEST(LatencyHistogram, HugeAndNegativeValuesStayInBounds) {
  LatencyHistogram h;
  h.record(std::chrono::microseconds(-5));
  h.record(std::chrono::hours(24 * 365));
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_GT(h.percentile(1.0), 0u);
}

TEST(LatencyHistogram, MergeAddsUp) {
  LatencyHistogram a, b;
  for (int v = 0; v < 100; ++v) a.record(std::chrono::microseconds(v));
  for (int v = 100; v < 200; ++v) b.record(std::chrono::microseconds(v));
  a.merge(b);
  EXPECT_EQ(a.count(), 200u);
  EXPECT_EQ(a.max(), 199u);
  EXPECT_EQ(a.percentile(0.5), 99u);
}

TEST(LatencyHistogram, EmptyIsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.percentile(0.99), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.mean(), 0);
}

TEST(ArrivalSchedule, EvenSpacingFromTheStart) {
  auto start = ArrivalSchedule::Clock::time_point(1h);
  ArrivalSchedule schedule(ArrivalSchedule::Kind::kEven, 1000, start);
  EXPECT_EQ(schedule.next(), start);
  for (int i = 1; i < 999; ++i) schedule.next();
  EXPECT_EQ(schedule.next(), start + 999ms) << "no drift after many sends";
}

TEST(ArrivalSchedule, PoissonGapsAverageOneOverTheRate) {
  auto start = ArrivalSchedule::Clock::time_point(1h);
  ArrivalSchedule schedule(ArrivalSchedule::Kind::kPoisson, 2000, start, 42);
  auto previous = schedule.next();
  EXPECT_EQ(previous, start);
  constexpr int kSends = 100'000;
  int shorter_than_mean = 0;
  for (int i = 0; i < kSends; ++i) {
    auto at = schedule.next();
    EXPECT_GE(at, previous);
    shorter_than_mean += (at - previous) < 500us;
    previous = at;
  }
  double mean_gap_us = std::chrono::duration<double, std::micro>(previous - start).count() / kSends;
  EXPECT_NEAR(mean_gap_us, 500, 500 * 0.02);
  // Exponential gaps: P(gap < mean) = 1 - 1/e.
  EXPECT_NEAR(static_cast<double>(shorter_than_mean) / kSends, 0.632, 0.01);
}

TEST(ArrivalSchedule, SameSeedSameTimes) {
  auto start = ArrivalSchedule::Clock::time_point(1h);
  ArrivalSchedule a(ArrivalSchedule::Kind::kPoisson, 100, start, 7),
      b(ArrivalSchedule::Kind::kPoisson, 100, start, 7);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next(), b.next());
}

}  // namespace
}  // namespace micq::loadgen
