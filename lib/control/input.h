// control input — what the peerctl nouns share between parsing options and writing the store:
// secrets from a file, stdin or a TTY prompt (never argv), times given as a duration ago or
// RFC 3339, and small formatting helpers. Single-threaded (reads stdin and /dev/tty).
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace control {

// A secret for `field`: from `path` ("-" = stdin, first line) when given, else prompted on the
// terminal (twice, to confirm) when stdin is a TTY, else Errc::data "FIELD: needs a secret
// (FILE or - for stdin)". Empty secrets are refused.
core::Result<std::string> read_secret(std::string_view field, const std::string& path,
                                      const std::string& prompt);
// More than one option reading stdin ("-") in one command is a usage error.
core::Result<void> one_stdin(const std::vector<std::pair<std::string, std::string>>& opts);

// "15m" (that long before `now`), RFC 3339, or unix seconds -> unix seconds.
core::Result<int64_t> parse_time(std::string_view field, std::string_view v, std::time_t now);

// "2026-11-23T02:00:00Z", or "-" for 0 / never.
std::string time_or(int64_t t, const char* none = "-");
std::string join(const std::vector<std::string>& v, std::string_view sep = ",");
// "30d", "12h", "15m", "90s": the largest unit that divides exactly.
std::string format_duration(int64_t seconds);

// For peerctl's verbs: 0, or the error printed as "peerctl: …" and its exit code.
int done(const core::Result<void>& r);
// Writes `out` to stdout: 0, or the write error's exit code.
int emit(const std::string& out);

}  // namespace control
