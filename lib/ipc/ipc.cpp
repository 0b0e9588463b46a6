#include "ipc/ipc.h"

#include <boost/json/serialize.hpp>

namespace ipc {

boost::json::object ok(boost::json::object fields) {
  if (fields.contains("ok")) return fields;
  boost::json::object out;
  out.reserve(fields.size() + 1);
  out["ok"] = true;
  for (auto& kv : fields) out[kv.key()] = std::move(kv.value());
  return out;
}

boost::json::object fail(std::string_view message) {
  return boost::json::object{{"ok", false}, {"error", message}};
}

boost::json::object fail(const core::Error& e) {
  return boost::json::object{
      {"ok", false}, {"error", e.message}, {"code", core::exit_code(e.code)}};
}

std::string to_line(const boost::json::object& o) {
  std::string s = boost::json::serialize(o);
  s += '\n';
  return s;
}

core::Error error_from_reply(const boost::json::object& reply) {
  core::Errc code = core::Errc::failure;
  if (auto* c = reply.if_contains("code"); c && c->is_int64()) {
    switch (c->as_int64()) {
      case 1:
      case 64:
      case 65:
      case 66:
      case 69:
      case 70:
      case 75:
      case 77:
      case 78:
        code = static_cast<core::Errc>(c->as_int64());
        break;
      default:
        break;
    }
  }
  std::string msg = "request failed";
  if (auto* e = reply.if_contains("error"); e && e->is_string()) msg = std::string(e->as_string());
  return core::Error(code, std::move(msg));
}

}  // namespace ipc
