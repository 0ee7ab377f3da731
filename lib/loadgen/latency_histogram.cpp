#include "micq/loadgen/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace micq::loadgen {

std::size_t LatencyHistogram::index_of(std::uint64_t value) {
  if (value < kLinear) return static_cast<std::size_t>(value);
  int shift = static_cast<int>(std::bit_width(value)) - 8;  // value >> shift lands in [128, 256)
  if (shift > kMaxShift) return kBuckets - 1;
  std::uint64_t mantissa = value >> shift;
  return kPerOctave * static_cast<std::size_t>(shift + 1) + static_cast<std::size_t>(mantissa - kPerOctave);
}

std::uint64_t LatencyHistogram::upper_bound_of(std::size_t index) {
  if (index < kLinear) return index;
  int shift = static_cast<int>(index / kPerOctave) - 1;
  std::uint64_t mantissa = kPerOctave + index % kPerOctave;
  return ((mantissa + 1) << shift) - 1;
}

void LatencyHistogram::record(std::chrono::microseconds latency) {
  std::uint64_t value = latency.count() < 0 ? 0 : static_cast<std::uint64_t>(latency.count());
  ++counts_[index_of(value)];
  ++count_;
  sum_ += value;
  max_ = std::max(max_, value);
  min_ = std::min(min_, value);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
  min_ = std::min(min_, other.min_);
}

std::uint64_t LatencyHistogram::percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::max<std::uint64_t>(rank, 1);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(upper_bound_of(i), max_);
  }
  return max_;
}

}  // namespace micq::loadgen
