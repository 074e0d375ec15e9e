// Sweeps: a sweep step draws its trials (sweep_plan.h) and adds each as a job step of
// its own, `tune[0]`, `tune[1]`, ..., run at most `parallel` at once and each cached,
// retried and recorded like any job. The objective metric that trials report (rank 0)
// drives early stopping while they run and picks the best trial when all have ended:
// the one whose last reported value is best. `tune.best.outputs` then reads its outputs.
#include <cmath>

#include "runtime/exec/executor.h"

namespace amlflow::runtime {

using nlohmann::json;

namespace {

std::string text_of(const json& value) {
    return value.is_string() ? value.get<std::string>() : value.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

void Executor::start_sweep(StepRun& step) {
    const std::string& name = step.plan->name;
    std::string error;
    auto trials = draw_trials(*step.plan, &error);
    if (!trials) return fail_step(step, error);
    if (step.plan->spec.value("sampling", "") == "bayesian") {
        reporter_.note("sweep '" + name + "': bayesian sampling draws its trials at random in this version");
    }
    SweepRun& sweep = sweeps_[name];
    sweep.objective = objective_of(*step.plan);
    sweep.early_stop = EarlyStop(*step.plan);
    sweep.parallel = std::max(1, step.plan->spec.value("parallel", 1));
    sweep.trials = *trials;
    sweep.pending = static_cast<int>(trials->size());
    step.state = StepState::Running;
    step.started_ms = wall_ms();
    store_.set_step_state(run_id_, name, StepState::Running);
    show(step, "running");
    for (const Trial& trial : *trials) {
        const StepPlan& plan = made_plans_.emplace_back(trial_step(*step.plan, trial));
        StepRun run;
        run.plan = &plan;
        run.parent = name;
        if (!previous_.count(plan.name)) store_.add_step(run_id_, plan.name, "trial", plan.hash);
        steps_.push_back(std::move(run));
    }
    if (trials->empty()) finish_sweep(step);
}

void Executor::trial_finished(StepRun& trial) {
    SweepRun& sweep = sweeps_[trial.parent];
    if (trial.started_steady_ms > 0 && sweep.running > 0) --sweep.running;
    if (--sweep.pending > 0) return;
    if (StepRun* parent = find(trial.parent)) finish_sweep(*parent);
}

void Executor::finish_sweep(StepRun& step) {
    if (step.state != StepState::Running) return;
    SweepRun& sweep = sweeps_[step.plan->name];
    if (canceling_) return finish_step(step, StepState::Canceled);
    const StepRun* best = nullptr;
    double best_value = 0;
    json trials = json::array();
    for (const StepRun& trial : steps_) {
        if (trial.parent != step.plan->name) continue;
        const Series& series = sweep.series[trial.plan->name];
        json row = {{"name", trial.plan->name}, {"state", to_string(trial.state)}};
        for (const Trial& drawn : sweep.trials) {
            if (drawn.name == trial.plan->name) row["params"] = drawn.params;
        }
        bool done = trial.state == StepState::Succeeded || trial.state == StepState::Cached;
        if (!series.empty()) row["value"] = std::isfinite(series.back().second) ? json(series.back().second) : json(nullptr);
        trials.push_back(row);
        if (!done || series.empty() || std::isnan(series.back().second)) continue;
        if (!best || sweep.objective.better(series.back().second, best_value)) {
            best = &trial;
            best_value = series.back().second;
        }
    }
    if (!best) {
        return fail_step(step, "no trial finished with a value of its objective '" + sweep.objective.metric +
                                   "' (is it reported through the metrics channel by rank 0?)");
    }
    const std::string& name = best->plan->name;
    std::map<std::string, std::string> results = results_[name];
    std::map<std::string, std::string> out;
    for (const char* key : {"outputs", "logs", "run", "step", "attempt"}) out[std::string("best.") + key] = results[key];
    out["best.name"] = name;
    json params;
    for (const Trial& drawn : sweep.trials) {
        if (drawn.name == name) params = drawn.params;
    }
    for (auto it = params.begin(); it != params.end(); ++it) out["best.params." + it.key()] = text_of(it.value());
    if (auto metrics = store_.metrics_of(results["run"], results["step"])) {
        for (const MetricRecord& metric : *metrics) {
            if (metric.rank == 0) out["best.metrics." + metric.name] = json(metric.value).dump();
        }
    }
    reporter_.note("sweep '" + step.plan->name + "': best trial " + name + " with " + sweep.objective.metric + " = " +
                   json(best_value).dump() + " (" + params.dump() + ")");
    json extra = {{"best", name},
                  {"objective", {{"metric", sweep.objective.metric},
                                 {"goal", sweep.objective.maximize ? "maximize" : "minimize"},
                                 {"value", best_value}}},
                  {"trials", trials}};
    step.started_steady_ms = 0;  // a sweep holds no slots of its own
    succeed(step, out, extra);
}

void Executor::check_early_stop(const std::string& sweep_name) {
    SweepRun& sweep = sweeps_[sweep_name];
    if (!sweep.early_stop.enabled() || canceling_) return;
    for (StepRun& trial : steps_) {
        // A trial whose ranks have all exited 0 is done, whatever it reported last.
        if (trial.parent != sweep_name || trial.state != StepState::Running || trial.stopped_early ||
            trial.restart_timer || !backend_.running(trial.plan->name) || ran_to_the_end(trial)) {
            continue;
        }
        std::string why;
        if (!sweep.early_stop.should_stop(trial.plan->name, sweep.series, &why)) continue;
        trial.stopped_early = true;
        reporter_.note("trial '" + trial.plan->name + "' stopped early: " + why);
        backend_.stop(trial.plan->name, "stopped early");
    }
}

void Executor::load_trial_series(const StepRun& trial, const std::string& origin_run, const std::string& origin_step) {
    SweepRun& sweep = sweeps_[trial.parent];
    Series& series = sweep.series[trial.plan->name];
    series.clear();
    if (auto metrics = store_.metrics_of(origin_run, origin_step, sweep.objective.metric)) {
        for (const MetricRecord& metric : *metrics) {
            if (metric.rank == 0) series.emplace_back(metric.step_index, metric.value);
        }
    }
}

}  // namespace amlflow::runtime
