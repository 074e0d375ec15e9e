#include "runtime/core/rank_env.h"

#include <iterator>

#include "compiler/rank_variables.h"

extern char** environ;

namespace amlflow::runtime {

EnvironmentBuilder::EnvironmentBuilder(std::map<std::string, std::string> base,
                                       std::map<std::string, std::string> file_variables,
                                       std::map<std::string, std::string> own)
    : base_(std::move(base)), file_variables_(std::move(file_variables)), own_(std::move(own)) {}

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

std::string EnvironmentBuilder::error_file(const AttemptContext& attempt, int rank) {
    if (attempt.attempt_logs.empty()) return "";
    return attempt.attempt_logs + "/rank-" + std::to_string(rank) + ".error.json";
}

namespace {

// 2. What amlflow sets unless the caller or the file says otherwise.
void set_defaults(std::map<std::string, std::string>& env, const AttemptContext& attempt, const RankIdentity& rank) {
    // torchrun sets 1 thread per process when it runs several and the user set nothing.
    if (rank.processes_per_node > 1 && !env.count("OMP_NUM_THREADS")) env["OMP_NUM_THREADS"] = "1";
    // The GPUs were numbered by NVML, which counts in PCI bus order; CUDA's default order
    // (fastest first) could give a rank another card than the one it was granted. A caller
    // who set CUDA_VISIBLE_DEVICES numbered them in their own order, which stays.
    if (!env.count("CUDA_DEVICE_ORDER") && !env.count("CUDA_VISIBLE_DEVICES")) env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID";
    // Every rank of the job sees the job's GPUs, so cuda.set_device(LOCAL_RANK) works.
    // With one slice of GPUs per node (a job of several nodes on this machine), a node's
    // ranks see that node's slice only, as they would on a machine of their own.
    size_t first = 0, count = attempt.gpus.size();
    size_t per_node = static_cast<size_t>(rank.processes_per_node);
    if (rank.nodes > 1 && attempt.gpus.size() >= static_cast<size_t>(rank.nodes) * per_node) {
        first = static_cast<size_t>(rank.node_rank) * per_node;
        count = per_node;
    }
    std::string visible;
    for (size_t i = first; i < first + count; ++i) visible += (visible.empty() ? "" : ",") + attempt.gpus[i];
    env["CUDA_VISIBLE_DEVICES"] = visible;
    // Live logs, and Python's stacks on SIGABRT when a hung rank is stopped.
    env["PYTHONUNBUFFERED"] = "1";
    if (!env.count("PYTHONFAULTHANDLER")) env["PYTHONFAULTHANDLER"] = "1";
}

// 4a. torchrun's variables (torch.distributed.run, torch 1.13), for distributed jobs only.
void set_distribution(std::map<std::string, std::string>& env, const AttemptContext& attempt, const RankIdentity& rank) {
    int world = rank.nodes * rank.processes_per_node;
    auto set = [&](const char* key, const std::string& value) { env[key] = value; };
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
    // torchrun's agent store is not there: the ranks make their own TCPStore at MASTER_*.
    set("TORCHELASTIC_USE_AGENT_STORE", "False");
    // NCCL: an error in one rank ends the others instead of hanging them (torch 1.13 reads
    // the first name, later versions the second).
    if (!env.count("NCCL_ASYNC_ERROR_HANDLING")) set("NCCL_ASYNC_ERROR_HANDLING", "1");
    if (!env.count("TORCH_NCCL_ASYNC_ERROR_HANDLING")) set("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1");
}

// 4b. amlflow's own.
void set_amlflow(std::map<std::string, std::string>& env, const AttemptContext& attempt, const RankIdentity& rank) {
    auto set = [&](const char* key, const std::string& value) { env[key] = value; };
    set("AMLFLOW_RUN_ID", attempt.run_id);
    set("AMLFLOW_STEP", attempt.step);
    set("AMLFLOW_ATTEMPT", std::to_string(attempt.attempt));
    set("AMLFLOW_OUTPUTS", attempt.outputs);
    set("AMLFLOW_CHECKPOINTS", attempt.checkpoints);
    set("AMLFLOW_LOGS", attempt.logs);
    set("AMLFLOW_METRICS", attempt.metrics_folder + "/rank-" + std::to_string(rank.rank) + ".jsonl");
    // torch.distributed.elastic's @record writes the rank's exception here; the failure
    // report reads it. Every process has one, distributed or not.
    std::string error_file = EnvironmentBuilder::error_file(attempt, rank.rank);
    if (!error_file.empty()) set("TORCHELASTIC_ERROR_FILE", error_file);
    // `import amlflow` works in every rank; the user's own PYTHONPATH stays after it.
    if (!attempt.python_lib.empty()) {
        auto existing = env.find("PYTHONPATH");
        std::string rest = existing == env.end() || existing->second.empty() ? "" : ":" + existing->second;
        set("PYTHONPATH", attempt.python_lib + rest);
    }
}

}  // namespace

std::map<std::string, std::string> EnvironmentBuilder::for_rank(const AttemptContext& attempt,
                                                                 const RankIdentity& rank) const {
    std::map<std::string, std::string> env = base_;
    // What amlflow's caller had set for its own distributed launch (torchrun's names, Open
    // MPI's and PMIx's rank identity) must not leak into a job that has none, nor into one
    // whose identity amlflow decides; an mpi rank gets Open MPI's own from its shim. amlflow's own names
    // are either set below or meant to pass (AMLFLOW_RUN_MARK, by which the run's reaper
    // finds every process of the run).
    for (auto it = env.begin(); it != env.end();) {
        const std::string& name = it->first;
        bool stale = (compiler::is_distribution_variable(name) && name.rfind("AMLFLOW_", 0) != 0) ||
                     name.rfind("OMPI_COMM_WORLD_", 0) == 0 || name.rfind("PMIX_", 0) == 0;
        it = stale ? env.erase(it) : std::next(it);
    }
    set_defaults(env, attempt, rank);
    for (const auto& [key, value] : file_variables_) {
        if (!compiler::is_distribution_variable(key)) env[key] = value;
    }
    if (rank.distributed) set_distribution(env, attempt, rank);
    set_amlflow(env, attempt, rank);
    for (const auto& [key, value] : own_) env[key] = value;
    return env;
}

}  // namespace amlflow::runtime
