#include "bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace bench {

Histogram::Histogram(int bits, int max_bits)
    : bits_(std::clamp(bits, 2, 20)),
      max_bits_(std::clamp(max_bits, bits_ + 1, 63)),
      sub_count_(uint64_t{1} << bits_),
      half_(sub_count_ / 2) {
  // Bucket 0 is linear over [0, 2^bits); bucket b >= 1 covers [2^(bits-1+b), 2^(bits+b)).
  size_t buckets = static_cast<size_t>(max_bits_ - bits_);
  counts_.assign(sub_count_ + buckets * half_, 0);
}

size_t Histogram::index_of(uint64_t v) const {
  if (v < sub_count_) return static_cast<size_t>(v);
  int msb = 63 - std::countl_zero(v);
  int b = msb - (bits_ - 1);
  uint64_t sub = v >> b;  // in [half, 2*half)
  size_t i = sub_count_ + static_cast<size_t>(b - 1) * half_ + (sub - half_);
  return std::min(i, counts_.size() - 1);
}

uint64_t Histogram::lowest_of(size_t i) const {
  if (i < sub_count_) return i;
  size_t k = i - sub_count_;
  int b = static_cast<int>(k / half_) + 1;
  uint64_t sub = half_ + k % half_;
  return sub << b;
}

uint64_t Histogram::highest_of(size_t i) const {
  if (i < sub_count_) return i;
  size_t k = i - sub_count_;
  int b = static_cast<int>(k / half_) + 1;
  return lowest_of(i) + (uint64_t{1} << b) - 1;
}

void Histogram::record_n(uint64_t v, uint64_t n) {
  if (n == 0) return;
  counts_[index_of(v)] += n;
  total_ += n;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
  double d = static_cast<double>(v);
  sum_ += d * static_cast<double>(n);
  sum_sq_ += d * d * static_cast<double>(n);
}

void Histogram::merge(const Histogram& o) {
  if (o.total_ == 0) return;
  if (o.bits_ == bits_ && o.max_bits_ == max_bits_) {
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    min_ = std::min(min_, o.min_);
    max_ = std::max(max_, o.max_);
    sum_ += o.sum_;
    sum_sq_ += o.sum_sq_;
    return;
  }
  double sum = sum_ + o.sum_, sq = sum_sq_ + o.sum_sq_;
  uint64_t mn = std::min(min_, o.min_), mx = std::max(max_, o.max_);
  for (size_t i = 0; i < o.counts_.size(); ++i)
    if (o.counts_[i]) record_n(std::min(o.highest_of(i), o.max_), o.counts_[i]);
  sum_ = sum;
  sum_sq_ = sq;
  min_ = mn;
  max_ = mx;
}

void Histogram::clear() {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = sum_sq_ = 0;
}

double Histogram::mean() const {
  return total_ ? sum_ / static_cast<double>(total_) : 0.0;
}

double Histogram::stdev() const {
  if (total_ < 2) return 0.0;
  double n = static_cast<double>(total_);
  double var = (sum_sq_ - sum_ * sum_ / n) / (n - 1);
  return var > 0 ? std::sqrt(var) : 0.0;
}

uint64_t Histogram::percentile(double q) const {
  if (total_ == 0) return 0;
  q = std::clamp(q, 0.0, 100.0);
  auto rank = static_cast<uint64_t>(std::ceil(q / 100.0 * static_cast<double>(total_)));
  rank = std::clamp<uint64_t>(rank, 1, total_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::max(std::min(highest_of(i), max_), min_);
  }
  return max_;
}

void Histogram::for_each(const std::function<void(uint64_t, uint64_t, uint64_t)>& fn) const {
  for (size_t i = 0; i < counts_.size(); ++i)
    if (counts_[i]) fn(lowest_of(i), highest_of(i), counts_[i]);
}

uint64_t Histogram::count_at_or_below(uint64_t v) const {
  size_t last = index_of(v);
  uint64_t n = 0;
  for (size_t i = 0; i <= last; ++i) n += counts_[i];
  return n;
}

}  // namespace bench
