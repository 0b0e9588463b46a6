// geoip — a MaxMind DB (GeoLite2/GeoIP2 Country or City) opened read-only with libmaxminddb,
// for country rules. Lookups are thread-safe; the database is memory-mapped and closed with
// the last shared_ptr. edged's rules and tunneld's forwards use it.
#pragma once

#include <memory>
#include <string>

#include "auth/rules.h"
#include "core/result.h"

namespace geoip {

class Db {
 public:
  // Errc::config "PATH: why" when the file is missing or not a MaxMind DB.
  static core::Result<std::shared_ptr<const Db>> open(const std::string& path);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // The ISO 3166-1 alpha-2 country of the address ("" when unknown).
  std::string country(const auth::IpAddr& ip) const;
  const std::string& path() const { return path_; }

 private:
  Db() = default;
  void* mmdb_ = nullptr;  // MMDB_s
  std::string path_;
};

}  // namespace geoip
