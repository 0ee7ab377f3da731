// LatencyHistogram: latencies in microseconds with bounded memory (~36 KB,
// whatever the number of samples) and bounded relative error (< 0.8%):
// log-linear buckets in the manner of HdrHistogram — exact below 256 us,
// then 128 buckets per power of two up to ~12 days.
//
// Example:
//   LatencyHistogram h;
//   h.record(std::chrono::microseconds(830));
//   h.percentile(0.99);  // microseconds
//
// Thread safety: none; give each thread its own and merge() at the end.
#ifndef MICQ_LOADGEN_LATENCY_HISTOGRAM_H_
#define MICQ_LOADGEN_LATENCY_HISTOGRAM_H_

#include <array>
#include <chrono>
#include <cstdint>

namespace micq::loadgen {

class LatencyHistogram {
 public:
  void record(std::chrono::microseconds latency);
  void merge(const LatencyHistogram& other);

  std::uint64_t count() const { return count_; }
  // The value below which a fraction `q` (0..1] of samples lie: the upper
  // bound of the bucket holding that rank, never above the true maximum.
  std::uint64_t percentile(double q) const;
  std::uint64_t max() const { return max_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0; }

  // Bucket layout, exposed for tests.
  static std::size_t index_of(std::uint64_t value);
  static std::uint64_t upper_bound_of(std::size_t index);

 private:
  static constexpr std::size_t kLinear = 256;     // exact values 0..255
  static constexpr std::size_t kPerOctave = 128;  // then this many buckets per doubling
  static constexpr int kMaxShift = 32;            // values up to ~2^40 us
  static constexpr std::size_t kBuckets = kPerOctave * (kMaxShift + 2);

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = UINT64_MAX;
};

}  // namespace micq::loadgen

#endif  // MICQ_LOADGEN_LATENCY_HISTOGRAM_H_
