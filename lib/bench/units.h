// Parsing and printing of the quantities netbench deals in: durations with sub-second units
// ("250ms", "1.5s", "100us"), byte sizes ("16k", "1MiB"), rates, and human figures
// ("81,234", "0.71ms", "9.87 MB/s"). Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace bench {

// "250ms", "1.5s", "100us"/"100µs", "20ns", "2m", "1h"; a bare number is seconds. -> nanoseconds.
core::Result<int64_t> parse_nanos(std::string_view s);
// Like parse_nanos, but a bare number is an error (latency thresholds must say their unit).
core::Result<int64_t> parse_nanos_strict(std::string_view s);
// "1024", "16k"/"16K"/"16KiB" (x1024), "1M"/"1MiB", "1G"/"1GiB". -> bytes.
core::Result<uint64_t> parse_size(std::string_view s);
// A plain non-negative decimal number ("1000", "2.5", "10k" = 10000).
core::Result<double> parse_number(std::string_view s);

// 0.71ms, 12.3ms, 1.20s, 950us: three significant figures, unit chosen by magnitude.
std::string format_nanos(double ns);
// 81,234
std::string format_count(uint64_t n);
// 81,234.5 (one decimal, thousands separated)
std::string format_rate(double v);
// 9.87 MB (decimal units), for rates append "/s" yourself.
std::string format_bytes(double bytes);
// Fixed decimals: format_fixed(3.14159, 2) = "3.14".
std::string format_fixed(double v, int decimals);

}  // namespace bench
