// File helpers: whole-file reads ("-" is stdin), exclusive and atomic writes with explicit
// modes. Stateless; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace core {

// Reads a whole file; "-" reads stdin. Missing file -> Errc::noinput, unreadable -> noperm.
Result<std::string> read_file(const std::string& path, size_t max_bytes = 64u << 20);

// Creates path with O_CREAT|O_EXCL and the given mode; refuses to overwrite (Errc::failure).
Result<void> write_file_excl(const std::string& path, std::string_view data, unsigned mode);

// Writes path.tmp.PID then renames over path; mode applied before the rename. "-" -> stdout.
Result<void> write_file_atomic(const std::string& path, std::string_view data, unsigned mode);

// Writes data to stdout (all of it) or fails with Errc::failure.
Result<void> write_stdout(std::string_view data);

// mkdir -p with mode for created components.
Result<void> ensure_dir(const std::string& path, unsigned mode = 0700);

bool file_exists(const std::string& path);

// Text of errno as "Permission denied"; maps errno to an Errc.
Errc errc_from_errno(int e);
std::string errno_text(int e);

}  // namespace core
