// The command job of one attempt, as the resource manager takes it (NOTES "Bodies"; issue 18
// item 3): a deterministic name (job_name(): run, step, attempt), the command quoted for the
// POSIX shell that runs it, code, environment and compute by id, `instanceCount` = nodes,
// distribution PyTorch or Mpi with `processCountPerInstance`, the file's variables and
// amlflow's own (run, step, attempt, TORCHELASTIC_RESTART_COUNT, AMLFLOW_OUTPUTS=./outputs,
// and in a shell prelude the rest of the rank contract: rank_prelude()), inputs, the
// checkpoint folder as a mounted output,
// `timeout` as the job's limit, the experiment, and tags naming run, step and attempt.
//
// A per-node launch runs once per node (`processCountPerInstance` 1, PyTorch distribution
// for MASTER_ADDR and NODE_RANK), wrapped so that $NODES and $WORLD_SIZE mean what they mean
// locally (nodes × processes per node; Azure sets WORLD_SIZE to the node count there).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/core/backend.h"

namespace amlflow::runtime::azureml {

class JobInputs;

struct JobIds {
    std::string code;         // ARM id of the code version
    std::string environment;  // ARM id, or "azureml:<curated>@latest"
    std::string compute;      // ARM id of the cluster
};

// The shell command of the job (without the per-node wrapper); path arguments become the
// words `inputs` gives them (job_inputs.h).
std::optional<std::string> job_command(const AttemptRequest& request, std::string* error,
                                       const JobInputs* inputs = nullptr);

// What runs before the command in each process (each node for a per-node launch), so that
// the script sees the local contract: torchrun's variables from Azure ML's own (Open MPI's
// for `mpi`), $NODES and $WORLD_SIZE of a per-node launch, AMLFLOW_CHECKPOINTS (the
// `checkpoints` output), AMLFLOW_LOGS, AMLFLOW_METRICS (under ./logs, which comes back), the
// job's inputs and the helper on PYTHONPATH.
std::string rank_prelude(const StepPlan& step, const JobInputs* inputs);

// The checkpoint folder of a step on the workspace's default datastore: the same for every
// attempt, so a restarted job resumes from what the failed one saved.
std::string checkpoint_uri(const std::string& run_id, const std::string& step);

// The PUT body of the attempt's job. nullopt with *error when the job has no command.
std::optional<nlohmann::json> command_job_body(const AttemptRequest& request, const JobIds& ids, std::string* error,
                                               const JobInputs* inputs = nullptr);

// An experiment name the service takes (letters, digits, '_', '-'; at most 255).
std::string experiment_name(const std::string& experiment);

}  // namespace amlflow::runtime::azureml
