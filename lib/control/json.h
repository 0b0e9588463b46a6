// control json — the JSON form of each control object, as `peerctl … --json` prints it (one
// object per line for listings). Machine formats only gain fields. Pure functions.
#pragma once

#include <boost/json/object.hpp>

#include "control/access.h"
#include "control/resources.h"

namespace control {

// A resource with its targets and auth settings (a forward: targets and auth unused).
boost::json::object to_json(const Resource& r, const std::vector<Target>& targets,
                            const Auth& auth);
boost::json::object to_json(const Target& t);
boost::json::object to_json(const Auth& a);  // no hashes: password_set / pin_set
boost::json::object to_json(const User& u);
boost::json::object to_json(const Role& r);
boost::json::object to_json(const Grant& g);
boost::json::object to_json(const Link& l, int64_t now);
boost::json::object to_json(const ApiKey& k, int64_t now);
boost::json::object to_json(const RuleRow& r);
boost::json::object to_json(const SessionRow& s);

}  // namespace control
