// `variables` may set anything a script reads, amlflow's defaults included, except the
// distribution's own variables (compiler/rank_variables.h): a rank's identity comes from
// its distribution, never from the file.
#include "compiler/checker.h"
#include "compiler/rank_variables.h"

namespace amlflow::compiler {

void Checker::check_variable_names(const ast::Block* block) {
    const ast::Member* member = find_member(block, "variables");
    if (!member || !member->value || member->value->kind != ast::ExprKind::Map || !member->value->block) return;
    for (const ast::Member& entry : member->value->block->members) {
        if (!is_distribution_variable(entry.key.name)) continue;
        if (entry.key.name.rfind("AMLFLOW_", 0) == 0) {
            diagnostics_.error("reserved-variable", entry.key.range,
                               "'" + entry.key.name + "' is set by amlflow for every rank and cannot be overridden")
                .note("amlflow's own variables say where the rank runs: run, step, attempt, folders, metrics")
                .help("give the value another name");
            continue;
        }
        diagnostics_.error("reserved-variable", entry.key.range,
                           "'" + entry.key.name + "' is set by the job's distribution and cannot be overridden")
            .note("ranks get RANK, LOCAL_RANK, WORLD_SIZE, NODE_RANK, MASTER_ADDR, MASTER_PORT and TORCHELASTIC_* "
                  "from their distribution")
            .help("choose the shape with `distribution = pytorch { nodes = N, processes_per_node = M }`, or give "
                  "the value another name");
    }
}

}  // namespace amlflow::compiler
