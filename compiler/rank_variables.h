// The environment variables that belong to a job's distribution (DESIGN §4): the rank's
// identity as torchrun sets it, and amlflow's own. A file's `variables` may set anything
// else, amlflow's defaults (PYTHONUNBUFFERED, OMP_NUM_THREADS, CUDA_VISIBLE_DEVICES, ...)
// included, but not these: the checker refuses them and the runtime never lets one through.
// One list for both, here in the compiler, which the runtime links.
#pragma once

#include <string_view>

namespace amlflow::compiler {

// True for RANK, WORLD_SIZE, MASTER_ADDR, TORCHELASTIC_RUN_ID, AMLFLOW_RUN_ID, ...
bool is_distribution_variable(std::string_view name);

}  // namespace amlflow::compiler
