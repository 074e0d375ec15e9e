#include "runtime/core/rank_env.h"

extern char** environ;

namespace amlflow::runtime {

EnvironmentBuilder::EnvironmentBuilder(std::map<std::string, std::string> base,
                                       std::map<std::string, std::string> file_variables)
    : base_(std::move(base)), file_variables_(std::move(file_variables)) {}

std::map<std::string, std::string> EnvironmentBuilder::current_process_environment() {
    std::map<std::string, std::string> env;
    for (char** entry = environ; entry && *entry; ++entry) {
        std::string text = *entry;
        size_t equals = text.find('=');
        if (equals != std::string::npos) env[text.substr(0, equals)] = text.substr(equals + 1);
    }
    return env;
}

std::vector<std::string> EnvironmentBuilder::to_envp(const std::map<std::string, std::string>& env) {
    std::vector<std::string> out;
    out.reserve(env.size());
    for (const auto& [key, value] : env) out.push_back(key + "=" + value);
    return out;
}

std::map<std::string, std::string> EnvironmentBuilder::for_rank(const AttemptContext& attempt,
                                                                 const RankIdentity& rank) const {
    std::map<std::string, std::string> env = base_;
    for (const auto& [key, value] : file_variables_) env[key] = value;
    int world = rank.nodes * rank.processes_per_node;
    auto set = [&](const char* key, const std::string& value) { env[key] = value; };
    // torchrun's variables (torch.distributed.run, torch 1.13).
    set("RANK", std::to_string(rank.rank));
    set("LOCAL_RANK", std::to_string(rank.local_rank));
    set("WORLD_SIZE", std::to_string(world));
    set("LOCAL_WORLD_SIZE", std::to_string(rank.processes_per_node));
    set("GROUP_RANK", std::to_string(rank.node_rank));
    set("GROUP_WORLD_SIZE", std::to_string(rank.nodes));
    set("ROLE_RANK", std::to_string(rank.rank));
    set("ROLE_NAME", "default");
    set("ROLE_WORLD_SIZE", std::to_string(world));
    set("NODE_RANK", std::to_string(rank.node_rank));
    set("MASTER_ADDR", attempt.master_addr);
    set("MASTER_PORT", std::to_string(attempt.master_port));
    set("TORCHELASTIC_RESTART_COUNT", std::to_string(attempt.attempt));
    set("TORCHELASTIC_MAX_RESTARTS", std::to_string(attempt.max_restarts));
    set("TORCHELASTIC_RUN_ID", attempt.run_id);
    // torchrun sets 1 thread per process when it runs several and the user set nothing.
    if (!env.count("OMP_NUM_THREADS")) set("OMP_NUM_THREADS", "1");
    // Every rank of the job sees the job's GPUs, so cuda.set_device(LOCAL_RANK) works.
    std::string visible;
    for (int gpu : attempt.gpus) visible += (visible.empty() ? "" : ",") + std::to_string(gpu);
    set("CUDA_VISIBLE_DEVICES", visible);
    // Live logs, and Python's stacks on SIGABRT when a hung rank is stopped.
    set("PYTHONUNBUFFERED", "1");
    if (!env.count("PYTHONFAULTHANDLER")) set("PYTHONFAULTHANDLER", "1");
    // amlflow's own.
    set("AMLFLOW_RUN_ID", attempt.run_id);
    set("AMLFLOW_STEP", attempt.step);
    set("AMLFLOW_ATTEMPT", std::to_string(attempt.attempt));
    set("AMLFLOW_OUTPUTS", attempt.outputs);
    set("AMLFLOW_CHECKPOINTS", attempt.checkpoints);
    set("AMLFLOW_LOGS", attempt.logs);
    set("AMLFLOW_METRICS", attempt.metrics_folder + "/rank-" + std::to_string(rank.rank) + ".jsonl");
    // `import amlflow` works in every rank; the user's own PYTHONPATH stays after it.
    if (!attempt.python_lib.empty()) {
        auto existing = env.find("PYTHONPATH");
        std::string rest = existing == env.end() || existing->second.empty() ? "" : ":" + existing->second;
        set("PYTHONPATH", attempt.python_lib + rest);
    }
    return env;
}

}  // namespace amlflow::runtime
