#include "runtime/core/job_launch.h"

#include "runtime/core/artifacts.h"
#include "runtime/core/log_tail.h"
#include "runtime/core/shim_protocol.h"

#include <unistd.h>

#include <filesystem>

namespace amlflow::runtime {

using nlohmann::json;
using Results = std::map<std::string, std::map<std::string, std::string>>;

namespace {

std::optional<std::map<std::string, std::string>> string_map(const json& spec, const char* field,
                                                              const ArgumentContext& context, std::string* error) {
    std::map<std::string, std::string> out;
    auto found = spec.find(field);
    if (found == spec.end() || !found->is_object()) return out;
    for (const auto& [key, value] : found->items()) {
        auto text = argument_text(value, context, error);
        if (!text) return std::nullopt;
        out[key] = *text;
    }
    return out;
}

// The command of one process: the script through the environment's interpreter, or the
// job's command (a string through /bin/sh, a list as argv).
std::optional<std::vector<std::string>> command_of(const AttemptRequest& request, const ArgumentContext& context,
                                                   std::string* error) {
    const json& spec = request.step->spec;
    std::vector<std::string> argv;
    if (spec.contains("script")) {
        argv.push_back(request.environment.value("python", "python3"));
        // The script is relative to the snapshot, which is the working directory.
        const json& script = spec["script"];
        argv.push_back(script.is_object() && script.contains("$path") ? script["$path"].get<std::string>()
                                                                       : script.dump());
    } else if (spec.contains("command") && spec["command"].is_array()) {
        for (const json& part : spec["command"]) {
            auto text = argument_text(part, context, error);
            if (!text) return std::nullopt;
            argv.push_back(*text);
        }
    } else if (spec.contains("command")) {
        auto text = argument_text(spec["command"], context, error);
        if (!text) return std::nullopt;
        argv = {"/bin/sh", "-c", *text, "sh"};  // the file asked for a shell
    } else {
        *error = "the job has neither script nor command";
        return std::nullopt;
    }
    for (const json& arg : spec.value("args", json::array())) {
        auto text = argument_text(arg, context, error);
        if (!text) return std::nullopt;
        argv.push_back(*text);
    }
    return argv;
}

}  // namespace

std::string error_file_of(const ProcessLaunch& launch) {
    auto found = launch.env.find("TORCHELASTIC_ERROR_FILE");
    return found == launch.env.end() ? "" : found->second;
}

ShimRankPlan shim_plan_of(const ProcessLaunch& launch, const std::string& cwd, const std::string& log_path) {
    ShimRankPlan plan;
    plan.rank = launch.identity.rank;
    plan.local_rank = launch.identity.local_rank;
    plan.node_rank = launch.identity.node_rank;
    plan.argv = launch.argv;
    plan.env = launch.env;
    plan.cwd = cwd;
    plan.log_path = log_path;
    if (!whole_line_logs()) plan.remote_log = log_path;  // the host sees it here, unless told otherwise
    plan.label = launch.label;
    plan.error_file = error_file_of(launch);
    return plan;
}

std::vector<std::string> mpirun_argv(int world_size, const std::string& shim, const std::string& step) {
    std::vector<std::string> argv = {"mpirun", "-np", std::to_string(world_size), "--oversubscribe", "--bind-to", "none",
                                     "-x", kShimAddressVariable, "-x", kShimSecretVariable};
    if (geteuid() == 0) argv.push_back("--allow-run-as-root");
    argv.push_back(shim);
    argv.push_back(step);
    return argv;
}

std::optional<std::vector<ProcessLaunch>> plan_processes(const AttemptRequest& request,
                                                         const std::map<std::string, std::string>& base_env,
                                                         std::string* error) {
    const StepPlan& step = *request.step;
    std::string kind = request.compute.value("$kind", "local");
    if (kind != "local" && kind != "hosts") {
        *error = "compute kind '" + kind + "' is not run by this version of amlflow";
        return std::nullopt;
    }
    ArgumentContext context{request.results, request.plan_folder};
    auto variables = string_map(request.environment, "variables", context, error);
    auto job_variables = string_map(step.spec, "variables", context, error);
    auto inputs = string_map(step.spec, "inputs", context, error);
    if (!variables || !job_variables || !inputs) return std::nullopt;
    for (const auto& [key, value] : *job_variables) (*variables)[key] = value;
    std::map<std::string, std::string> own;
    for (const auto& [name, path] : *inputs) {
        std::string upper;
        for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        own["AMLFLOW_INPUT_" + upper] = path;
    }
    auto command = command_of(request, context, error);
    if (!command) return std::nullopt;
    EnvironmentBuilder builder(base_env, *variables, own);
    Distribution shape = distribution_of(step.spec);
    std::vector<ProcessLaunch> launches;
    if (shape.kind == "per_node") {
        // One launcher per node: it starts that node's ranks itself.
        for (int node = 0; node < shape.nodes; ++node) {
            ProcessLaunch launch;
            launch.identity = {node, 0, node, shape.nodes, shape.processes_per_node};
            launch.env = builder.for_rank(request.context, launch.identity);
            for (const char* own_name : {"RANK", "LOCAL_RANK", "ROLE_RANK", "GROUP_RANK"}) launch.env.erase(own_name);
            launch.env["NODES"] = std::to_string(shape.nodes);
            launch.argv = *command;
            launch.label = step.name + (shape.nodes > 1 ? " node " + std::to_string(node) : "");
            launches.push_back(std::move(launch));
        }
        return launches;
    }
    // Every rank, whoever starts it: amlflow itself, or mpirun through the rank shim (the
    // shim then gets the launch of the rank Open MPI numbered it).
    for (int rank = 0; rank < shape.world_size(); ++rank) {
        ProcessLaunch launch;
        launch.identity = {rank, rank % shape.processes_per_node, rank / shape.processes_per_node, shape.nodes,
                           shape.processes_per_node, shape.kind != "none"};
        launch.env = builder.for_rank(request.context, launch.identity);
        launch.argv = *command;
        launch.label = step.name + (shape.world_size() > 1 ? " " + std::to_string(rank) : "");
        launches.push_back(std::move(launch));
    }
    return launches;
}

}  // namespace amlflow::runtime
