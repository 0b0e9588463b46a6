// nodes: the node types and their data fields.
#include <cstdio>

#include "flowrun.h"

namespace flowrun {

namespace {

flow::Value type_json(const flow::NodeType& t) {
  flow::Object o;
  o["type"] = t.name;
  o["group"] = flow::group_name(t.group);
  o["summary"] = t.summary;
  flow::Array fields;
  for (auto& f : t.fields) {
    flow::Object fo;
    fo["name"] = f.name;
    fo["kind"] = flow::field_kind_name(f.kind);
    fo["required"] = f.required;
    if (!f.def.empty()) fo["default"] = f.def;
    fo["help"] = f.help;
    fields.push_back(std::move(fo));
  }
  o["fields"] = std::move(fields);
  return o;
}

}  // namespace

void register_nodes(Ctx& c) {
  auto type = std::make_shared<std::string>();
  auto* s = c.prog.verb(c.prog.app(), "nodes", "List the node types and their data fields",
                        "flowrun nodes [--json] [TYPE]");
  s->add_option("type", *type, "Show one node type");
  c.prog.on(s, [&c, type]() -> int {
    std::string out;
    bool json = c.prog.common().json;
    if (!type->empty()) {
      const flow::NodeType* t = flow::find_node_type(*type);
      if (!t) return cli::fail({core::Errc::noinput, "unknown node type: " + *type});
      if (json) {
        out = json_line(type_json(*t));
      } else {
        out = std::string(t->name) + " (" + std::string(flow::group_name(t->group)) +
              "): " + std::string(t->summary) + "\n";
        char buf[512];
        for (auto& f : t->fields) {
          std::string def = f.required ? "required" : f.def.empty() ? "-" : std::string(f.def);
          std::snprintf(buf, sizeof buf, "  %-18s %-9s %-14s %s\n", std::string(f.name).c_str(),
                        std::string(flow::field_kind_name(f.kind)).c_str(), def.c_str(),
                        std::string(f.help).c_str());
          out += buf;
        }
      }
    } else if (json) {
      for (auto& t : flow::node_types()) out += json_line(type_json(t));
    } else {
      char buf[1024];
      std::snprintf(buf, sizeof buf, "%-18s %-11s %s\n", "TYPE", "GROUP", "FIELDS");
      out += buf;
      for (auto& t : flow::node_types()) {
        std::string fields;
        for (auto& f : t.fields)
          fields += (fields.empty() ? "" : ", ") + std::string(f.name) + (f.required ? "*" : "");
        std::snprintf(buf, sizeof buf, "%-18s %-11s %s\n", std::string(t.name).c_str(),
                      std::string(flow::group_name(t.group)).c_str(), fields.c_str());
        out += buf;
      }
    }
    std::fputs(out.c_str(), stdout);
    return 0;
  });
}

}  // namespace flowrun
