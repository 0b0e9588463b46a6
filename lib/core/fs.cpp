#include "core/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace core {

std::string errno_text(int e) {
  return std::strerror(e);
}

Errc errc_from_errno(int e) {
  switch (e) {
    case ENOENT:
    case ENOTDIR:
      return Errc::noinput;
    case EACCES:
    case EPERM:
    case EROFS:
      return Errc::noperm;
    case EAGAIN:
    case EBUSY:
    case ENOSPC:
    case EINTR:
      return Errc::tempfail;
    default:
      return Errc::failure;
  }
}

static Error sys_error(const std::string& what, int e) {
  return Error(errc_from_errno(e), what + ": " + errno_text(e));
}

static Result<std::string> read_fd(int fd, const std::string& name, size_t max_bytes) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error(name, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) return Error(Errc::data, name + ": input too large");
  }
  return out;
}

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  if (path == "-") return read_fd(0, "stdin", max_bytes);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sys_error(path, errno);
  auto r = read_fd(fd, path, max_bytes);
  ::close(fd);
  return r;
}

static Result<void> write_all(int fd, std::string_view data, const std::string& name) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error(name, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<void> write_stdout(std::string_view data) {
  return write_all(1, data, "stdout");
}

Result<void> write_file_excl(const std::string& path, std::string_view data, unsigned mode) {
  if (path == "-") return write_stdout(data);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) return Error(Errc::failure, path + ": file exists (will not overwrite)");
    return sys_error(path, errno);
  }
  auto r = write_all(fd, data, path);
  if (::close(fd) != 0 && r) r = sys_error(path, errno);
  if (!r) ::unlink(path.c_str());
  return r;
}

Result<void> write_file_atomic(const std::string& path, std::string_view data, unsigned mode) {
  if (path == "-") return write_stdout(data);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  auto r = write_file_excl(tmp, data, mode);
  if (!r) return r;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return sys_error(path, e);
  }
  return {};
}

Result<void> ensure_dir(const std::string& path, unsigned mode) {
  if (path.empty()) return {};
  std::string cur;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    cur = path.substr(0, j);
    if (!cur.empty() && ::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return sys_error(cur, errno);
    i = j + 1;
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return sys_error(path, errno);
  if (!S_ISDIR(st.st_mode)) return Error(Errc::failure, path + ": not a directory");
  return {};
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace core
