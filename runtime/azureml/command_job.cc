#include "runtime/azureml/command_job.h"

#include "runtime/azureml/compute_setup.h"
#include "runtime/core/value_text.h"

namespace amlflow::runtime::azureml {
using nlohmann::json;

std::string shell_quote(const std::string& word) {
    bool safe = !word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                        "0123456789_-+=./:,@%") == std::string::npos;
    if (safe) return word;
    std::string out = "'";
    for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

std::optional<std::string> job_command(const AttemptRequest& request, std::string* error) {
    const json& spec = request.step->spec;
    ArgumentContext context{request.results, request.plan_folder};
    std::string command;
    if (spec.contains("script")) {
        const json& script = spec["script"];
        // The image's interpreter: the local `python` means nothing on the service.
        command = "python " + shell_quote(script.is_object() ? script.value("$path", "") : script.dump());
    } else if (spec.contains("command") && spec["command"].is_array()) {
        for (const json& part : spec["command"]) {
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

std::optional<json> command_job_body(const AttemptRequest& request, const JobIds& ids, std::string* error) {
    auto command = job_command(request, error);
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
        properties["command"] = "export NODES=" + std::to_string(shape.nodes) +
                                " WORLD_SIZE=" + std::to_string(shape.world_size()) + "; " + *command;
    }
    long long timeout = duration_ms(step.spec, "timeout", 0);
    if (timeout > 0) properties["limits"] = {{"jobLimitsType", "Command"}, {"timeout", iso_duration(timeout)}};
    return json{{"properties", properties}};
}

}  // namespace amlflow::runtime::azureml
