// A sweep as data: the trials it draws from its search space, each trial as a job step
// (the template with its parameters bound), and the decisions made over the metrics
// trials report (the best trial; which running trial an early-stop policy ends). Pure:
// the executor runs the trials, this only decides.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/core/plan_model.h"
#include "runtime/exec/tpe_sampler.h"

namespace amlflow::runtime {

struct Trial {
    int index = 0;             // 0-based
    std::string name;          // "tune[0]"
    nlohmann::json params;     // parameter name -> value, every template parameter
};

// The trials of a sweep. Random sampling is seeded by the sweep's content hash, so an
// unchanged sweep draws the same trials (and so they can come from the cache). Grid
// sampling walks every combination of `choice` values (`trials` caps it). Bayesian
// sampling gives only the first trials, those drawn before any result (tpe_sampler.h):
// the executor draws the others from bayesian_sampler as results come. nullopt with
// *error for a space that cannot be drawn that way (grid over a continuous range).
std::optional<std::vector<Trial>> draw_trials(const StepPlan& sweep, std::string* error);

// Trial `index` of the sweep at `point` (parameter -> value): the values converted to the
// template parameters' types, the parameters not swept at their defaults.
Trial make_trial(const StepPlan& sweep, int index, const nlohmann::json& point);

// The TPE sampler of a `sampling = bayesian` sweep, seeded by the sweep's content hash.
TpeSampler bayesian_sampler(const StepPlan& sweep);

// The job step of one trial: the template's fields with each `{"$param": p}` replaced
// by the trial's value, the sweep's environment, compute and source, and a hash of the
// template's and the values.
StepPlan trial_step(const StepPlan& sweep, const Trial& trial);

struct Objective {
    std::string metric;
    bool maximize = true;
    bool better(double a, double b) const { return maximize ? a > b : a < b; }
};
Objective objective_of(const StepPlan& sweep);

// What one trial reported of the objective metric: (step index, value), in order.
using Series = std::vector<std::pair<int64_t, double>>;

// Early termination (bandit, median, truncation), evaluated whenever metrics arrive.
// Intervals and delay count reported values of the objective, as Azure ML's policies do.
class EarlyStop {
public:
    EarlyStop() = default;
    explicit EarlyStop(const StepPlan& sweep);
    bool enabled() const { return kind_ != "none"; }
    // Whether the running trial `name` should stop, given every trial's series so far;
    // *why says which rule, for the board and the log.
    bool should_stop(const std::string& name, const std::map<std::string, Series>& series,
                     std::string* why) const;

private:
    std::string kind_ = "none";
    double slack_ = 0;
    int interval_ = 1, delay_ = 0, percent_ = 0;
    Objective objective_;
};

}  // namespace amlflow::runtime
