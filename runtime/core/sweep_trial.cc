#include "runtime/core/sweep_trial.h"

namespace amlflow::runtime {

using nlohmann::json;

json substitute_params(const json& value, const json& params) {
    if (value.is_object()) {
        if (value.size() == 1 && value.contains("$param")) {
            std::string name = value["$param"].get<std::string>();
            return params.contains(name) ? params[name] : value;
        }
        json out = json::object();
        for (auto it = value.begin(); it != value.end(); ++it) out[it.key()] = substitute_params(it.value(), params);
        return out;
    }
    if (value.is_array()) {
        json out = json::array();
        for (const json& item : value) out.push_back(substitute_params(item, params));
        return out;
    }
    return value;
}

StepPlan trial_job_step(const StepPlan& sweep, const json& params) {
    StepPlan step;
    step.kind = "job";
    step.experiment = sweep.experiment;
    step.spec = substitute_params(sweep.spec["$template"].value("fields", json::object()), params);
    for (const char* link : {"$environment", "$compute", "$source"}) {
        if (sweep.spec.contains(link)) step.spec[link] = sweep.spec[link];
    }
    step.environment = sweep.environment;
    step.compute = sweep.compute;
    step.source = sweep.source;
    return step;
}

}  // namespace amlflow::runtime
