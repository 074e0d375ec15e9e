#include "runtime/azureml/command_job.h"

#include "runtime/azureml/compute_setup.h"
#include "runtime/azureml/job_inputs.h"
#include "runtime/core/host_list.h"  // shell_quote
#include "runtime/core/value_text.h"

namespace amlflow::runtime::azureml {
using nlohmann::json;

std::optional<std::string> job_command(const AttemptRequest& request, std::string* error, const JobInputs* inputs) {
    const json& spec = request.step->spec;
    ArgumentContext context{request.results, request.plan_folder};
    std::string command;
    if (spec.contains("script")) {
        const json& script = spec["script"];
        // The image's interpreter: the local `python` means nothing on the service.
        command = "python " + shell_quote(script.is_object() ? script.value("$path", "") : script.dump());
    } else if (spec.contains("command") && spec["command"].is_array()) {
        for (const json& part : spec["command"]) {
            if (auto word = inputs ? inputs->word_for(part) : std::nullopt) {
                command += (command.empty() ? "" : " ") + *word;
                continue;
            }
            auto text = argument_text(part, context, error);
            if (!text) return std::nullopt;
            command += (command.empty() ? "" : " ") + shell_quote(*text);
        }
    } else if (spec.contains("command")) {
        auto text = argument_text(spec["command"], context, error);  // the file asked for a shell
        if (!text) return std::nullopt;
        command = *text;
    } else {
        *error = "the job has neither script nor command";
        return std::nullopt;
    }
    for (const json& arg : spec.value("args", json::array())) {
        if (auto word = inputs ? inputs->word_for(arg) : std::nullopt) {
            command += " " + *word;
            continue;
        }
        auto text = argument_text(arg, context, error);
        if (!text) return std::nullopt;
        command += " " + shell_quote(*text);
    }
    return command;
}

std::string experiment_name(const std::string& experiment) {
    std::string out;
    for (char c : experiment) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
    if (out.empty()) out = "amlflow";
    return out.substr(0, 255);
}

namespace {

std::optional<json> variables_of(const AttemptRequest& request, std::string* error) {
    ArgumentContext context{request.results, request.plan_folder};
    json out = json::object();
    for (const json* fields : {&request.environment, &request.step->spec}) {
        const json variables = fields->value("variables", json::object());
        for (const auto& [key, value] : variables.items()) {
            auto text = argument_text(value, context, error);
            if (!text) return std::nullopt;
            out[key] = *text;
        }
    }
    const AttemptContext& c = request.context;
    out["AMLFLOW_RUN_ID"] = c.run_id;
    out["AMLFLOW_STEP"] = c.step;
    out["AMLFLOW_ATTEMPT"] = std::to_string(c.attempt);
    out["AMLFLOW_OUTPUTS"] = "./outputs";
    out["TORCHELASTIC_RESTART_COUNT"] = std::to_string(c.attempt);
    out["TORCHELASTIC_MAX_RESTARTS"] = std::to_string(c.max_restarts);
    out["TORCHELASTIC_RUN_ID"] = c.run_id + "-" + c.step;
    return out;
}

}  // namespace

std::string checkpoint_uri(const std::string& run_id, const std::string& step) {
    auto clean = [](const std::string& text) {
        std::string out;
        for (char c : text) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
        return out;
    };
    return "azureml://datastores/workspaceblobstore/paths/amlflow/checkpoints/" + clean(run_id) + "/" + clean(step) + "/";
}

std::string rank_prelude(const StepPlan& step, const JobInputs* inputs) {
    Distribution shape = distribution_of(step.spec);
    std::string nodes = std::to_string(shape.nodes), per_node = std::to_string(shape.processes_per_node);
    std::string world = std::to_string(shape.world_size());
    std::string out;
    if (shape.kind == "pytorch") {
        // Azure ML sets RANK, LOCAL_RANK, WORLD_SIZE, NODE_RANK, MASTER_*: torchrun's others.
        out = "export LOCAL_WORLD_SIZE=" + per_node + " GROUP_RANK=\"$NODE_RANK\" GROUP_WORLD_SIZE=" + nodes +
              " ROLE_RANK=\"$RANK\" ROLE_NAME=default ROLE_WORLD_SIZE=\"$WORLD_SIZE\" TORCHELASTIC_USE_AGENT_STORE=False; ";
    } else if (shape.kind == "mpi") {
        // Each rank is started by mpirun: torchrun's names from Open MPI's, as the local shim does
        // (ranks fill the nodes in blocks, so the local rank is the rank modulo the node's size).
        out = "m=\"${AZ_BATCH_MASTER_NODE:-127.0.0.1:6105}\"; export RANK=\"$OMPI_COMM_WORLD_RANK\" "
              "LOCAL_RANK=$((OMPI_COMM_WORLD_RANK % " + per_node + ")) WORLD_SIZE=\"$OMPI_COMM_WORLD_SIZE\" LOCAL_WORLD_SIZE=" + per_node +
              " NODE_RANK=$((OMPI_COMM_WORLD_RANK / " + per_node + ")) GROUP_RANK=$((OMPI_COMM_WORLD_RANK / " + per_node +
              ")) GROUP_WORLD_SIZE=" + nodes + " ROLE_RANK=\"$OMPI_COMM_WORLD_RANK\" ROLE_NAME=default ROLE_WORLD_SIZE=\"$OMPI_COMM_WORLD_SIZE\""
              " MASTER_ADDR=\"${m%:*}\" MASTER_PORT=\"${m##*:}\" TORCHELASTIC_USE_AGENT_STORE=False; ";
    } else if (shape.kind == "per_node") {
        // Once per node (processCountPerInstance 1): Azure's WORLD_SIZE counts nodes there.
        out = "unset RANK LOCAL_RANK ROLE_RANK GROUP_RANK; export NODES=" + nodes + " WORLD_SIZE=" + world +
              " LOCAL_WORLD_SIZE=" + per_node + " GROUP_WORLD_SIZE=" + nodes + " ROLE_NAME=default ROLE_WORLD_SIZE=" + world +
              " TORCHELASTIC_USE_AGENT_STORE=False; ";
    }
    out += "mkdir -p outputs logs/amlflow-metrics; export AMLFLOW_CHECKPOINTS=\"${{outputs.checkpoints}}\" "
           "AMLFLOW_LOGS=\"$PWD/logs\" AMLFLOW_METRICS=\"$PWD/logs/amlflow-metrics/rank-${RANK:-${NODE_RANK:-0}}.jsonl\"; ";
    if (inputs) out += inputs->exports();
    return out;
}

std::optional<json> command_job_body(const AttemptRequest& request, const JobIds& ids, std::string* error,
                                     const JobInputs* inputs) {
    auto command = job_command(request, error, inputs);
    auto variables = variables_of(request, error);
    if (!command || !variables) return std::nullopt;
    const StepPlan& step = *request.step;
    Distribution shape = distribution_of(step.spec);
    json properties = {{"jobType", "Command"},
                       {"command", *command},
                       {"codeId", ids.code},
                       {"environmentId", ids.environment},
                       {"computeId", ids.compute},
                       {"experimentName", experiment_name(step.experiment)},
                       {"displayName", step.name},
                       {"resources", {{"instanceCount", shape.nodes}}},
                       {"environmentVariables", *variables},
                       {"tags",
                        {{"amlflow.run", request.context.run_id},
                         {"amlflow.step", step.name},
                         {"amlflow.attempt", std::to_string(request.context.attempt)}}}};
    if (shape.kind == "pytorch" || shape.kind == "mpi") {
        properties["distribution"] = {{"distributionType", shape.kind == "mpi" ? "Mpi" : "PyTorch"},
                                      {"processCountPerInstance", shape.processes_per_node}};
    } else if (shape.kind == "per_node") {
        properties["distribution"] = {{"distributionType", "PyTorch"}, {"processCountPerInstance", 1}};
    }
    properties["command"] = rank_prelude(step, inputs) + *command;
    properties["outputs"] = {{"checkpoints",
                              {{"jobOutputType", "uri_folder"},
                               {"mode", "ReadWriteMount"},
                               {"uri", checkpoint_uri(request.context.run_id, step.name)}}}};
    if (inputs) {
        json body = inputs->body();
        if (!body.empty()) properties["inputs"] = body;
    }
    long long timeout = duration_ms(step.spec, "timeout", 0);
    if (timeout > 0) properties["limits"] = {{"jobLimitsType", "Command"}, {"timeout", iso_duration(timeout)}};
    return json{{"properties", properties}};
}

}  // namespace amlflow::runtime::azureml
