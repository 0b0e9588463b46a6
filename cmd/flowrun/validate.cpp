// validate, graph: load a workflow without running it.
#include <cstdio>

#include "flowrun.h"

namespace flowrun {

void register_validate(Ctx& c) {
  auto file = std::make_shared<std::string>();
  auto* s = c.prog.verb(c.prog.app(), "validate",
                        "Check a workflow (JSON, fields, types, edges, cycles, limits)",
                        "flowrun validate [--json] FILE|-");
  s->add_option("file", *file, "Workflow file (- for stdin)")->required();
  c.prog.on(s, [&c, file]() -> int {
    auto wf = load_file(c, *file);
    if (!wf) return cli::fail(wf.error());
    if (!c.prog.common().json) return 0;
    flow::Object o;
    o["valid"] = true;
    if (wf->has_workflow_id) o["workflow_id"] = wf->workflow_id;
    o["nodes"] = static_cast<int64_t>(wf->nodes.size());
    o["edges"] = static_cast<int64_t>(wf->edges.size());
    flow::Array order;
    for (int i : wf->order) order.push_back(flow::Value(boost::json::string(wf->nodes[i].id)));
    o["order"] = std::move(order);
    std::fputs(json_line(o).c_str(), stdout);
    return 0;
  });
}

void register_graph(Ctx& c) {
  auto file = std::make_shared<std::string>();
  auto* s = c.prog.verb(c.prog.app(), "graph", "Print a workflow as a Graphviz dot graph",
                        "flowrun graph FILE|-");
  s->add_option("file", *file, "Workflow file (- for stdin)")->required();
  c.prog.on(s, [&c, file]() -> int {
    auto wf = load_file(c, *file);
    if (!wf) return cli::fail(wf.error());
    std::fputs(flow::to_dot(*wf).c_str(), stdout);
    return 0;
  });
}

}  // namespace flowrun
