// What a sweep's trial is as a job step, shared by the places that run trials: the local
// executor binds each trial's drawn values (exec/sweep_plan.h), Azure ML binds the swept
// parameters to the service's `${{search_space.x}}` references (azureml/sweep_job.h). Both
// start from the sweep's `$template`: its fields with each `{"$param": p}` replaced, and the
// sweep's environment, compute and source.
#pragma once

#include <nlohmann/json.hpp>

#include "runtime/core/plan_model.h"

namespace amlflow::runtime {

// `value` with each `{"$param": p}` replaced by params[p]; one `params` has no value for is
// left as it is.
nlohmann::json substitute_params(const nlohmann::json& value, const nlohmann::json& params);

// The sweep's template as a job step with its parameters bound by `params`: kind job, the
// sweep's experiment, environment, compute and source (and their `$` links in the spec).
// The caller names it and gives it its hash.
StepPlan trial_job_step(const StepPlan& sweep, const nlohmann::json& params);

}  // namespace amlflow::runtime
