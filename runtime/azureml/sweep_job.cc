#include "runtime/azureml/sweep_job.h"

#include <cmath>

#include "runtime/azureml/compute_setup.h"
#include "runtime/core/sweep_trial.h"

namespace amlflow::runtime::azureml {
using nlohmann::json;

std::optional<json> service_search_expression(const json& space, std::string* error) {
    std::string kind = space.value("$kind", "");
    auto number = [&](const char* field) { return space.value(field, 0.0); };
    if (kind == "choice") return json::array({"choice", json::array({space.value("values", json::array())})});
    if (kind == "randint") return json::array({"randint", json::array({space.value("upper", 1)})});
    if (kind == "uniform") return json::array({"uniform", {number("low"), number("high")}});
    if (kind == "quniform") return json::array({"quniform", {number("low"), number("high"), number("q")}});
    // The service draws exp(uniform(min, max)): its bounds are the logarithms of amlflow's.
    if (kind == "loguniform" || kind == "qloguniform") {
        double low = number("low"), high = number("high");
        if (!(low > 0) || !(high > 0)) {
            *error = kind + "() needs bounds above 0";
            return std::nullopt;
        }
        json args = {std::log(low), std::log(high)};
        if (kind == "qloguniform") args.push_back(number("q"));
        return json::array({kind, args});
    }
    // amlflow's lognormal is already exp(normal(mu, sigma)), as the service's is.
    if (kind == "normal" || kind == "lognormal") return json::array({kind, {number("mu"), number("sigma")}});
    if (kind == "qnormal" || kind == "qlognormal") return json::array({kind, {number("mu"), number("sigma"), number("q")}});
    *error = "the service has no search space function '" + kind + "'";
    return std::nullopt;
}

namespace {

json sampling_of(const StepPlan& sweep) {
    std::string sampling = sweep.spec.value("sampling", "random");
    if (sampling == "grid") return {{"samplingAlgorithmType", "Grid"}};
    if (sampling == "bayesian") return {{"samplingAlgorithmType", "Bayesian"}};
    // The same sweep draws the same trials: the seed comes from its content hash.
    long long seed = std::stoll(sweep.hash.substr(0, 7).empty() ? "0" : sweep.hash.substr(0, 7), nullptr, 16);
    return {{"samplingAlgorithmType", "Random"}, {"seed", seed}};
}

std::optional<json> policy_of(const StepPlan& sweep) {
    const json policy = sweep.spec.value("early_stop", json());
    if (!policy.is_object()) return std::nullopt;
    std::string kind = policy.value("$kind", "none");
    json out = {{"evaluationInterval", std::max(1, policy.value("interval", 1))},
                {"delayEvaluation", policy.value("delay", 0)}};
    if (kind == "bandit") {
        out["policyType"] = "Bandit";
        out["slackFactor"] = policy.value("slack", 0.0);
    } else if (kind == "median") {
        out["policyType"] = "MedianStopping";
    } else if (kind == "truncation") {
        out["policyType"] = "TruncationSelection";
        out["truncationPercentage"] = policy.value("percent", 0);
    } else {
        return std::nullopt;
    }
    return out;
}

// Grid sampling's number of combinations, capped by `trials`.
long long total_trials(const StepPlan& sweep) {
    const json& spec = sweep.spec;
    if (spec.value("sampling", "random") != "grid") return spec.value("trials", 10);
    long long total = 1;
    const json all = spec.value("space", json::object());
    for (const auto& [name, space] : all.items()) {
        total *= space.value("$kind", "") == "choice" ? static_cast<long long>(space.value("values", json::array()).size())
                                                      : space.value("upper", 1LL);
        if (total > 1000000) break;
    }
    return spec.contains("trials") ? std::min<long long>(total, spec.value("trials", total)) : total;
}

}  // namespace

StepPlan sweep_trial_template(const StepPlan& sweep) {
    json refs = json::object();
    const json swept = sweep.spec.value("space", json::object());
    for (const auto& [name, space] : swept.items()) {
        refs[name] = "${{search_space." + name + "}}";
    }
    const json params = sweep.spec["$template"].value("params", json::array());
    for (const json& param : params) {
        std::string name = param.value("name", "");
        if (!refs.contains(name) && param.contains("default")) refs[name] = param["default"];
    }
    StepPlan trial = trial_job_step(sweep, refs);
    trial.name = sweep.name;
    trial.id = sweep.id;
    trial.hash = sweep.hash;
    return trial;
}

std::optional<json> sweep_job_body(const AttemptRequest& request, const JobIds& ids, std::string* error,
                                   const JobInputs* inputs) {
    const StepPlan& sweep = *request.step;
    StepPlan trial = sweep_trial_template(sweep);
    AttemptRequest as_trial = request;
    as_trial.step = &trial;
    auto command = command_job_body(as_trial, ids, error, inputs);
    if (!command) return std::nullopt;
    json job = (*command)["properties"];
    json space = json::object();
    const json swept = sweep.spec.value("space", json::object());
    for (const auto& [name, expression] : swept.items()) {
        auto converted = service_search_expression(expression, error);
        if (!converted) {
            *error = "parameter '" + name + "': " + *error;
            return std::nullopt;
        }
        space[name] = *converted;
    }
    json trial_part = {{"command", job["command"]}, {"codeId", job["codeId"]}, {"environmentId", job["environmentId"]},
                       {"resources", job["resources"]}, {"environmentVariables", job["environmentVariables"]}};
    if (job.contains("distribution")) trial_part["distribution"] = job["distribution"];
    const json objective = sweep.spec.value("objective", json::object());
    json limits = {{"jobLimitsType", "Sweep"},
                   {"maxTotalTrials", total_trials(sweep)},
                   {"maxConcurrentTrials", std::max(1, sweep.spec.value("parallel", 1))}};
    long long timeout = duration_ms(sweep.spec, "timeout", 0);
    if (timeout > 0) limits["timeout"] = iso_duration(timeout);
    if (job.contains("limits")) limits["trialTimeout"] = job["limits"]["timeout"];
    json properties = {{"jobType", "Sweep"},
                       {"computeId", ids.compute},
                       {"experimentName", job["experimentName"]},
                       {"displayName", sweep.name},
                       {"tags", job["tags"]},
                       {"searchSpace", space},
                       {"samplingAlgorithm", sampling_of(sweep)},
                       {"objective", {{"primaryMetric", objective.value("metric", "")},
                                      {"goal", objective.value("$kind", "maximize") == "minimize" ? "Minimize" : "Maximize"}}},
                       {"limits", limits},
                       {"trial", trial_part}};
    if (job.contains("inputs")) properties["inputs"] = job["inputs"];  // the trial's ${{inputs.x}}
    // The trial's ${{outputs.checkpoints}}, at the service's own path for each trial job: the
    // service runs a trial once (amlflow restarts none), and trials must not share a folder.
    if (job.contains("outputs")) {
        json outputs = job["outputs"];
        for (auto& [name, output] : outputs.items()) output.erase("uri");
        properties["outputs"] = outputs;
    }
    if (auto policy = policy_of(sweep)) properties["earlyTermination"] = *policy;
    return json{{"properties", properties}};
}

}  // namespace amlflow::runtime::azureml
