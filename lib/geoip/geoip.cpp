#include "geoip/geoip.h"

#include <maxminddb.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

namespace geoip {

core::Result<std::shared_ptr<const Db>> Db::open(const std::string& path) {
  auto* m = new MMDB_s{};
  int rc = MMDB_open(path.c_str(), MMDB_MODE_MMAP, m);
  if (rc != MMDB_SUCCESS) {
    delete m;
    std::string why = rc == MMDB_IO_ERROR
                          ? std::string(MMDB_strerror(rc)) + ": " + std::strerror(errno)
                          : std::string(MMDB_strerror(rc));
    return core::err(core::Errc::config, path + ": " + why);
  }
  std::shared_ptr<Db> db(new Db);
  db->mmdb_ = m;
  db->path_ = path;
  return std::shared_ptr<const Db>(std::move(db));
}

Db::~Db() {
  if (!mmdb_) return;
  MMDB_close(static_cast<MMDB_s*>(mmdb_));
  delete static_cast<MMDB_s*>(mmdb_);
}

std::string Db::country(const auth::IpAddr& ip) const {
  auto* m = static_cast<MMDB_s*>(mmdb_);
  sockaddr_storage ss{};
  if (ip.v4) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    std::memcpy(&a->sin_addr, ip.b.data(), 4);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    std::memcpy(&a->sin6_addr, ip.b.data(), 16);
  }
  int err = 0;
  MMDB_lookup_result_s r = MMDB_lookup_sockaddr(m, reinterpret_cast<sockaddr*>(&ss), &err);
  if (err != MMDB_SUCCESS || !r.found_entry) return {};
  MMDB_entry_data_s d{};
  if (MMDB_get_value(&r.entry, &d, "country", "iso_code", nullptr) != MMDB_SUCCESS || !d.has_data ||
      d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size != 2)
    return {};
  return std::string(d.utf8_string, 2);
}

}  // namespace geoip
