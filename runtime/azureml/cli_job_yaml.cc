#include "runtime/azureml/cli_job_yaml.h"

#include <filesystem>
#include <map>
#include <set>

#include "runtime/azureml/arm_endpoint.h"
#include "runtime/azureml/command_job.h"
#include "runtime/azureml/environment_asset.h"
#include "runtime/azureml/job_inputs.h"
#include "runtime/azureml/sweep_job.h"
#include "runtime/azureml/workspace_from_plan.h"
#include "runtime/azureml/yaml_text.h"
#include "runtime/core/retry_policy.h"

namespace amlflow::runtime::azureml {
namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

std::string snake(const std::string& camel) {
    std::string out;
    for (char c : camel) {
        if (std::isupper(static_cast<unsigned char>(c))) {
            if (!out.empty()) out += '_';
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else {
            out += c;
        }
    }
    return out;
}

// "PT1H30M" as 5400: the CLI's limits are whole seconds.
long long seconds_of(const std::string& iso) {
    long long total = 0, part = 0;
    for (char c : iso) {
        if (std::isdigit(static_cast<unsigned char>(c))) part = part * 10 + (c - '0');
        if (c == 'H' || c == 'M' || c == 'S') total += part * (c == 'H' ? 3600 : c == 'M' ? 60 : 1);
        if (!std::isdigit(static_cast<unsigned char>(c))) part = 0;
    }
    return total;
}

// The REST enum values of a `type` (distribution, sampling, policy) as the CLI spells them.
std::optional<std::string> cli_type(const std::string& rest) {
    static const std::map<std::string, std::string> names = {
        {"PyTorch", "pytorch"}, {"Mpi", "mpi"}, {"TensorFlow", "tensorflow"}, {"Random", "random"},
        {"Grid", "grid"}, {"Bayesian", "bayesian"}, {"Bandit", "bandit"}, {"MedianStopping", "median_stopping"},
        {"TruncationSelection", "truncation_selection"}};
    auto found = names.find(rest);
    if (found == names.end()) return std::nullopt;
    return found->second;
}

// An object whose `type_key` becomes `type` and whose other keys become snake_case.
std::optional<ordered_json> typed(const json& rest, const char* type_key, std::string* error) {
    ordered_json out = ordered_json::object();
    auto type = cli_type(rest.value(type_key, ""));
    if (!type) {
        *error = std::string("no Azure ML CLI name for ") + type_key + " '" + rest.value(type_key, "") + "'";
        return std::nullopt;
    }
    out["type"] = *type;
    for (const auto& [key, value] : rest.items()) {
        if (key != type_key) out[snake(key)] = value;
    }
    return out;
}

std::string mode_of(const std::string& rest) {
    if (rest == "ReadOnlyMount") return "ro_mount";
    if (rest == "ReadWriteMount") return "rw_mount";
    return snake(rest);
}

// Inputs and outputs: {jobInputType, uri, mode} -> {type, path, mode}; a literal is its value.
ordered_json io_of(const json& rest, const char* type_key) {
    ordered_json out = ordered_json::object();
    for (const auto& [name, io] : rest.items()) {
        if (io.value(type_key, "") == "literal") {
            out[name] = io.value("value", json());
            continue;
        }
        ordered_json entry = {{"type", io.value(type_key, "")}};
        if (io.contains("uri")) entry["path"] = io["uri"];
        if (io.contains("mode")) entry["mode"] = mode_of(io.value("mode", ""));
        out[name] = entry;
    }
    return out;
}

ordered_json limits_of(const json& rest) {
    ordered_json out = ordered_json::object();
    for (const auto& [key, value] : rest.items()) {
        if (key == "jobLimitsType") continue;
        bool time = key == "timeout" || key == "trialTimeout";
        out[snake(key)] = time ? ordered_json(seconds_of(value.get<std::string>())) : ordered_json(value);
    }
    return out;
}

// ["loguniform", [min, max]] -> {type: loguniform, min_value, max_value} (bounds as they are:
// the CLI's loguniform takes natural logarithms, as the REST form does).
std::optional<ordered_json> expression_of(const json& rest, std::string* error) {
    std::string kind = rest.at(0).get<std::string>();
    const json& args = rest.at(1);
    ordered_json out = {{"type", kind}};
    if (kind == "choice") {
        out["values"] = args.at(0);
    } else if (kind == "randint") {
        out["upper"] = args.at(0);
    } else if (kind == "uniform" || kind == "loguniform" || kind == "quniform" || kind == "qloguniform") {
        out["min_value"] = args.at(0);
        out["max_value"] = args.at(1);
    } else if (kind == "normal" || kind == "lognormal" || kind == "qnormal" || kind == "qlognormal") {
        out["mu"] = args.at(0);
        out["sigma"] = args.at(1);
    } else {
        *error = "no Azure ML CLI form for search space type '" + kind + "'";
        return std::nullopt;
    }
    if (kind[0] == 'q') out["q"] = args.at(2);
    return out;
}

// The fields a command job and a sweep's trial share.
bool command_part(const json& rest, const CliJobRefs& refs, ordered_json& out, std::set<std::string>& used,
                  std::string* error) {
    auto take = [&](const char* key) { return used.insert(key).second && rest.contains(key); };
    if (take("codeId")) out["code"] = refs.code;
    if (take("command")) out["command"] = rest["command"];
    if (take("environmentId")) out["environment"] = refs.environment;
    if (take("environmentVariables")) out["environment_variables"] = rest["environmentVariables"];
    if (take("distribution")) {
        auto distribution = typed(rest["distribution"], "distributionType", error);
        if (!distribution) return false;
        out["distribution"] = *distribution;
    }
    if (take("resources")) {
        ordered_json resources = ordered_json::object();
        for (const auto& [key, value] : rest["resources"].items()) resources[snake(key)] = value;
        out["resources"] = resources;
    }
    return true;
}

bool sweep_part(const json& rest, const CliJobRefs& refs, ordered_json& out, std::set<std::string>& used,
                std::string* error) {
    auto take = [&](const char* key) { return used.insert(key).second && rest.contains(key); };
    if (take("samplingAlgorithm")) {
        auto sampling = typed(rest["samplingAlgorithm"], "samplingAlgorithmType", error);
        if (!sampling) return false;
        out["sampling_algorithm"] = *sampling;
    }
    if (take("searchSpace")) {
        ordered_json space = ordered_json::object();
        for (const auto& [name, expression] : rest["searchSpace"].items()) {
            auto converted = expression_of(expression, error);
            if (!converted) return false;
            space[name] = *converted;
        }
        out["search_space"] = space;
    }
    if (take("objective")) {
        out["objective"] = {{"primary_metric", rest["objective"].value("primaryMetric", "")},
                            {"goal", snake(rest["objective"].value("goal", ""))}};
    }
    if (take("earlyTermination")) {
        auto policy = typed(rest["earlyTermination"], "policyType", error);
        if (!policy) return false;
        out["early_termination"] = *policy;
    }
    if (take("trial")) {
        ordered_json trial = ordered_json::object();
        std::set<std::string> trial_used;
        if (!command_part(rest["trial"], refs, trial, trial_used, error)) return false;
        for (const auto& [key, value] : rest["trial"].items()) {
            if (!trial_used.count(key)) {
                *error = "the sweep's trial field '" + key + "' has no Azure ML CLI form here";
                return false;
            }
        }
        out["trial"] = trial;
    }
    return true;
}

}  // namespace

std::optional<ordered_json> cli_job_from_rest(const json& body, const CliJobRefs& refs, std::string* error) {
    const json& rest = body.at("properties");
    std::string type = rest.value("jobType", "");
    if (type != "Command" && type != "Sweep") {
        *error = "no Azure ML CLI form for a '" + type + "' job";
        return std::nullopt;
    }
    bool sweep = type == "Sweep";
    ordered_json out = {{"$schema", sweep ? kSweepJobSchema : kCommandJobSchema}, {"type", sweep ? "sweep" : "command"}};
    std::set<std::string> used = {"jobType"};
    auto take = [&](const char* key) { return used.insert(key).second && rest.contains(key); };
    if (take("displayName")) out["display_name"] = rest["displayName"];
    if (take("experimentName")) out["experiment_name"] = rest["experimentName"];
    if (take("description")) out["description"] = rest["description"];
    if (take("computeId")) out["compute"] = "azureml:" + refs.compute;
    bool ok = sweep ? sweep_part(rest, refs, out, used, error) : command_part(rest, refs, out, used, error);
    if (!ok) return std::nullopt;
    if (take("limits")) out["limits"] = limits_of(rest["limits"]);
    if (take("inputs")) out["inputs"] = io_of(rest["inputs"], "jobInputType");
    if (take("outputs")) out["outputs"] = io_of(rest["outputs"], "jobOutputType");
    if (take("tags")) out["tags"] = rest["tags"];
    for (const auto& [key, value] : rest.items()) {
        if (!used.count(key)) {
            *error = "the job field '" + key + "' has no Azure ML CLI form here";
            return std::nullopt;
        }
    }
    return out;
}

}  // namespace amlflow::runtime::azureml
