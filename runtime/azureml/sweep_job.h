// A sweep step as one Azure ML sweep job (issue 19 item 1; NOTES "Sweep search space"): the
// PUT body with the search space in the service's `[type, [args]]` form (`loguniform` and
// `qloguniform` bounds as natural logarithms, since amlflow writes plain values), the
// sampling algorithm (Random, seeded by the sweep's hash so the same sweep draws the same
// trials; Grid; Bayesian), the objective and goal, the early-termination policy (bandit ->
// Bandit slackFactor, median -> MedianStopping, truncation -> TruncationSelection, with
// their interval and delay), and the limits: `trials` -> maxTotalTrials (grid: every
// combination), `parallel` -> maxConcurrentTrials, the sweep's `timeout` -> timeout, the
// template job's `timeout` -> trialTimeout. The trial is the template's command job with each
// swept parameter written as `${{search_space.NAME}}`, which the service replaces before the
// shell runs the command.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/azureml/command_job.h"

namespace amlflow::runtime::azureml {

// The service's form of one search-space function of the plan ({"$kind": "loguniform",
// "low": ..., "high": ...}); nullopt with *error for one it has no form of.
std::optional<nlohmann::json> service_search_expression(const nlohmann::json& space, std::string* error);

// The job step of the sweep's trial with every swept parameter as its `${{search_space.x}}`
// reference and the others at their defaults (the sweep's environment, compute and source).
StepPlan sweep_trial_template(const StepPlan& sweep);

// The PUT body of the sweep job of `request` (request.step is the sweep).
// `inputs`: the sweep's (JobInputs::collect: its trial's), given to the sweep job.
std::optional<nlohmann::json> sweep_job_body(const AttemptRequest& request, const JobIds& ids, std::string* error,
                                             const JobInputs* inputs = nullptr);

}  // namespace amlflow::runtime::azureml
