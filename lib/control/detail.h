// Internal helpers of lib/control: audit detail JSON and error shorthands. Not installed.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <string>
#include <string_view>

#include "core/result.h"
#include "store/store.h"

namespace control::detail {

inline std::string json(const boost::json::object& o) {
  return boost::json::serialize(o);
}

inline core::Error missing(std::string_view what, std::string_view name) {
  return core::err(core::Errc::noinput, "no " + std::string(what) + " " + std::string(name));
}

inline core::Error exists(std::string_view what, std::string_view name) {
  return core::err(core::Errc::data,
                   std::string(what) + " " + std::string(name) + " already exists");
}

// One value from a one-row query, or nullopt.
core::Result<bool> exists_row(store::Db& db, std::string_view sql, std::string_view arg);

}  // namespace control::detail
