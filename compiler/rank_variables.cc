#include "compiler/rank_variables.h"

#include <array>

namespace amlflow::compiler {

bool is_distribution_variable(std::string_view name) {
    // torchrun's (torch.distributed.run), NODES of a per-node launch, and the shim's.
    static constexpr std::array<std::string_view, 20> kNames = {
        "RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE",
        "ROLE_RANK", "ROLE_NAME", "ROLE_WORLD_SIZE", "NODE_RANK", "NODES", "MASTER_ADDR", "MASTER_PORT",
        "TORCHELASTIC_RESTART_COUNT", "TORCHELASTIC_MAX_RESTARTS", "TORCHELASTIC_RUN_ID",
        "TORCHELASTIC_ERROR_FILE", "TORCHELASTIC_USE_AGENT_STORE", "AMLFLOW_SHIM_ADDRESS", "AMLFLOW_SHIM_SECRET"};
    for (std::string_view reserved : kNames) {
        if (name == reserved) return true;
    }
    // amlflow's own (run id, step, attempt, folders, metrics channel, inputs).
    return name.rfind("AMLFLOW_", 0) == 0;
}

}  // namespace amlflow::compiler
