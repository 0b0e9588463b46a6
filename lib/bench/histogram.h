// bench::Histogram — a log-linear (HdrHistogram-style) histogram of non-negative integer values
// (netbench records nanoseconds). Each power-of-two range is split into 2^(bits-1) linear
// sub-buckets, so any recorded value is reproduced within a relative error of 2^-(bits-1)
// (bits = 11: 0.098 %). Min, max, sum and sum of squares are exact. Owned by one thread; merge
// the per-thread histograms after the threads have joined. No I/O, no clock.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace bench {

class Histogram {
 public:
  // bits: precision (sub-bucket count = 2^bits); max_bits: values >= 2^max_bits are clamped into
  // the top bucket (max stays exact). Defaults: 0.1 % precision up to 2^42 ns (73 minutes).
  explicit Histogram(int bits = 11, int max_bits = 42);

  void record(uint64_t v) { record_n(v, 1); }
  void record_n(uint64_t v, uint64_t n);
  // Adds other's counts; both must have the same bits/max_bits (else the slow path re-records).
  void merge(const Histogram& other);
  void clear();

  uint64_t count() const { return total_; }
  uint64_t min() const { return total_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const;
  double stdev() const;
  // The value at percentile q (0..100): the highest value equivalent to the bucket holding the
  // ceil(q/100 * count)-th smallest sample, capped at max(). 0 when empty.
  uint64_t percentile(double q) const;
  // Relative precision of any reported value (e.g. 0.00098 for bits = 11).
  double precision() const { return 1.0 / static_cast<double>(half_); }
  int bits() const { return bits_; }

  // Calls fn(lowest, highest, count) for every non-empty bucket, in increasing order.
  void for_each(const std::function<void(uint64_t, uint64_t, uint64_t)>& fn) const;
  // Number of samples <= v (bucket resolution).
  uint64_t count_at_or_below(uint64_t v) const;

 private:
  size_t index_of(uint64_t v) const;
  uint64_t lowest_of(size_t i) const;
  uint64_t highest_of(size_t i) const;

  int bits_;
  int max_bits_;
  uint64_t sub_count_;  // 2^bits
  uint64_t half_;       // 2^(bits-1)
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  double sum_ = 0;
  double sum_sq_ = 0;
};

}  // namespace bench
