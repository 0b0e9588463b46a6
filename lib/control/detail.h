// Internal helpers of lib/control: audit detail JSON and error shorthands. Not installed.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "store/store.h"

namespace model {
struct Installation;
struct Resource;
}  // namespace model

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

// One change through the model, the one writer of the installation: read, edited by `edit`,
// diffed and applied with the model's audit rows, in one transaction (nested in the caller's).
core::Result<void> change(store::Db& db, std::string_view actor, int64_t now,
                          const std::function<core::Result<void>(model::Installation&)>& edit);
// The HTTP resource `name` of `m` (a forward has no targets, auth, grants, rules or links).
core::Result<model::Resource*> http_of(model::Installation& m, std::string_view name);

// One value from a one-row query, or nullopt.
core::Result<bool> exists_row(store::Db& db, std::string_view sql, std::string_view arg);

}  // namespace control::detail
