#include "micq/coalesce/internal/expiry.h"

#include <gtest/gtest.h>

#include <cmath>

namespace micq::coalesce::internal {
namespace {

using namespace std::chrono_literals;
const TimePoint kExpiry = TimePoint(1000s);

TEST(JitteredTtl, NoJitterKeepsTheTtl) { EXPECT_EQ(jittered_ttl(1000ms, 0, 0.7), 1000ms); }

TEST(JitteredTtl, CutsAtMostTheJitterFraction) {
  EXPECT_EQ(jittered_ttl(1000ms, 0.1, 0.0), 1000ms);
  EXPECT_EQ(jittered_ttl(1000ms, 0.1, 0.5), 950ms);
  EXPECT_GT(jittered_ttl(1000ms, 0.1, 0.999999), 900ms);
}

TEST(XFetch, NeverDueAfterAZeroLengthLoadBeforeExpiry) {
  EXPECT_FALSE(xfetch_due(kExpiry - 1ms, kExpiry, 0ms, 1.0, 1e-12));
  EXPECT_TRUE(xfetch_due(kExpiry, kExpiry, 0ms, 1.0, 0.5));
}

TEST(XFetch, DueWhenTheDrawReachesExpiry) {
  // -delta * ln(u) = 100 ms for u = e^-1.
  EXPECT_TRUE(xfetch_due(kExpiry - 99ms, kExpiry, 100ms, 1.0, std::exp(-1.0)));
  EXPECT_FALSE(xfetch_due(kExpiry - 101ms, kExpiry, 100ms, 1.0, std::exp(-1.0)));
}

TEST(XFetch, BetaScalesEagerness) {
  EXPECT_FALSE(xfetch_due(kExpiry - 150ms, kExpiry, 100ms, 1.0, std::exp(-1.0)));
  EXPECT_TRUE(xfetch_due(kExpiry - 150ms, kExpiry, 100ms, 2.0, std::exp(-1.0)));
}

TEST(XFetch, ImpossibleIsExactlyTheWindowNoDrawCanReach) {
  EXPECT_TRUE(xfetch_impossible(kExpiry - 4s, kExpiry, 100ms, 1.0));
  EXPECT_FALSE(xfetch_impossible(kExpiry - 3s, kExpiry, 100ms, 1.0));
  // The smallest possible draw cannot reach beyond the "impossible" bound.
  EXPECT_FALSE(xfetch_due(kExpiry - 3681ms, kExpiry, 100ms, 1.0, 0x1.0p-53));
}

TEST(XFetch, ProbabilityGrowsTowardExpiry) {
  auto share_due = [](Duration before_expiry) {
    int due = 0;
    for (int i = 1; i <= 1000; ++i) {
      due += xfetch_due(kExpiry - before_expiry, kExpiry, 100ms, 1.0, i / 1000.0);
    }
    return due;
  };
  int far = share_due(300ms), near = share_due(30ms);
  EXPECT_LT(far, near);
  EXPECT_NEAR(far, 50, 2);    // P = e^-3
  EXPECT_NEAR(near, 741, 2);  // P = e^-0.3
}

TEST(Uniform, DrawsInTheOpenClosedUnitInterval) {
  for (int i = 0; i < 10000; ++i) {
    double u = uniform_open_closed();
    ASSERT_GT(u, 0.0);
    ASSERT_LE(u, 1.0);
  }
}

}  // namespace
}  // namespace micq::coalesce::internal

namespace micq::coalesce::internal {
namespace {

TEST(Decayed, HalvesForEveryHalfLife) {
  using std::chrono::milliseconds;
  EXPECT_EQ(decayed(milliseconds(400), milliseconds(0), milliseconds(1000)), milliseconds(400));
  EXPECT_EQ(decayed(milliseconds(400), milliseconds(1000), milliseconds(1000)), milliseconds(200));
  EXPECT_EQ(decayed(milliseconds(400), milliseconds(2000), milliseconds(1000)), milliseconds(100));
  EXPECT_EQ(decayed(milliseconds(400), std::chrono::hours(1), milliseconds(1000)), Duration::zero());
  EXPECT_EQ(decayed(Duration::zero(), milliseconds(5), milliseconds(1000)), Duration::zero());
}

}  // namespace
}  // namespace micq::coalesce::internal
