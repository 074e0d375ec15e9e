// The environment of one rank (DESIGN §4): what torchrun sets, so scripts written for
// torchrun run unmodified, plus amlflow's own variables. Built as a full environment
// vector for posix_spawn; nothing goes through a shell.
//
// Precedence, lowest first:
//   1. amlflow's own environment (`base`);
//   2. amlflow's defaults for ranks: PYTHONUNBUFFERED, PYTHONFAULTHANDLER, OMP_NUM_THREADS
//      (1 when several ranks share a node and the caller set none, as torchrun does),
//      CUDA_VISIBLE_DEVICES (the job's GPUs) and CUDA_DEVICE_ORDER (NVML's numbering);
//   3. the file's `variables` (environment's, then job's): a user's value wins over a default;
//   4. the distribution's variables (RANK, WORLD_SIZE, MASTER_*, TORCHELASTIC_*, ...) and
//      amlflow's own (AMLFLOW_*): nothing overrides them (compiler/rank_variables.h; the
//      checker refuses them in a file).
// A job without a distribution runs as `python train.py` would: no RANK, WORLD_SIZE,
// MASTER_ADDR or other torchrun variable at all (torchvision's reference scripts, for one,
// switch to distributed mode when they see them).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace amlflow::runtime {

struct RankIdentity {
    int rank = 0;          // global
    int local_rank = 0;    // on its node
    int node_rank = 0;
    int nodes = 1;
    int processes_per_node = 1;
    bool distributed = true;  // false: a job with no distribution (no torchrun variables)
};

struct AttemptContext {
    std::string run_id;
    std::string step;
    int attempt = 0;           // 0-based; also TORCHELASTIC_RESTART_COUNT
    int max_restarts = 0;
    std::string master_addr = "127.0.0.1";
    int master_port = 0;
    std::string outputs;       // absolute folders
    std::string checkpoints;
    std::string logs;
    std::string metrics_folder;
    std::vector<std::string> gpus;  // the job's GPUs on this node, as CUDA_VISIBLE_DEVICES names them
    std::string python_lib;    // amlflow's Python helpers, put first on PYTHONPATH; empty: none
    std::string attempt_logs;  // this attempt's log folder: each rank's error file goes there
};

class EnvironmentBuilder {
public:
    // `file_variables`: the environment's and job's `variables`; `own`: amlflow's own
    // per-job values (AMLFLOW_INPUT_*), which the file cannot override.
    EnvironmentBuilder(std::map<std::string, std::string> base,
                       std::map<std::string, std::string> file_variables,
                       std::map<std::string, std::string> own = {});

    std::map<std::string, std::string> for_rank(const AttemptContext& attempt, const RankIdentity& rank) const;

    // The rank's TORCHELASTIC_ERROR_FILE: "<attempt logs>/rank-N.error.json".
    static std::string error_file(const AttemptContext& attempt, int rank);

    static std::map<std::string, std::string> current_process_environment();
    static std::vector<std::string> to_envp(const std::map<std::string, std::string>& env);

private:
    std::map<std::string, std::string> base_;
    std::map<std::string, std::string> file_variables_;
    std::map<std::string, std::string> own_;
};

}  // namespace amlflow::runtime
