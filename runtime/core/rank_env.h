// The environment of one rank (DESIGN §4): what torchrun sets, so scripts written for
// torchrun run unmodified, plus amlflow's own variables. Built as a full environment
// vector for posix_spawn; nothing goes through a shell.
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
    std::vector<int> gpus;     // the job's GPUs on this node; empty: none
    std::string python_lib;    // amlflow's Python helpers, put first on PYTHONPATH; empty: none
};

class EnvironmentBuilder {
public:
    // Starts from `base` (amlflow's own environment) and the variables the file sets
    // (environment's, then job's); those never override the rank identity.
    EnvironmentBuilder(std::map<std::string, std::string> base,
                       std::map<std::string, std::string> file_variables);

    std::map<std::string, std::string> for_rank(const AttemptContext& attempt, const RankIdentity& rank) const;

    static std::map<std::string, std::string> current_process_environment();
    static std::vector<std::string> to_envp(const std::map<std::string, std::string>& env);

private:
    std::map<std::string, std::string> base_;
    std::map<std::string, std::string> file_variables_;
};

}  // namespace amlflow::runtime
