// What processes a job runs: argv and environment for each, from its plan spec, its
// environment and its distribution (none, pytorch, per_node, mpi). For `mpi`, one launch per
// rank as well: mpirun starts a shim for each, and the shim runs that rank's launch. Pure: it spawns nothing,
// so `amlflow run --dry-run` can show exactly what would start.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runtime/core/backend.h"
#include "runtime/core/shim_group.h"
#include "runtime/core/value_text.h"  // argument_text, for the values of a job

namespace amlflow::runtime {

struct ProcessLaunch {
    RankIdentity identity;                 // for per_node: the node, with rank = node rank
    std::vector<std::string> argv;
    std::map<std::string, std::string> env;
    std::string label;                     // "train 1"
};

// nullopt with *error when the job cannot be launched here (a hosts or amlcompute target,
// a command of the wrong shape).
std::optional<std::vector<ProcessLaunch>> plan_processes(const AttemptRequest& request,
                                                         const std::map<std::string, std::string>& base_env,
                                                         std::string* error);

// The rank's TORCHELASTIC_ERROR_FILE as its environment names it, or "".
std::string error_file_of(const ProcessLaunch& launch);

// What the shim of `launch`'s rank runs: its identity, program, environment and error
// file, in `cwd`, its live log at `log_path` on this machine.
ShimRankPlan shim_plan_of(const ProcessLaunch& launch, const std::string& cwd, const std::string& log_path);

// mpirun for an `mpi` job on this machine: one process per rank, each the rank shim
// `shim` (amlflow-rank), which connects back for its program (core/shim_group.h).
std::vector<std::string> mpirun_argv(int world_size, const std::string& shim, const std::string& step);

}  // namespace amlflow::runtime
