// Sweeps: a sweep step draws its trials (sweep_plan.h; bayesian sampling draws each as
// the results it depends on arrive, tpe_sampler.h) and adds each as a job step of
// its own, `tune[0]`, `tune[1]`, ..., run at most `parallel` at once and each cached,
// retried and recorded like any job. The objective metric that trials report (rank 0)
// drives early stopping while they run and picks the best trial when all have ended:
// the one whose last reported value is best. `tune.best.outputs` then reads its outputs.
#include <cmath>
#include <memory>

#include "runtime/exec/executor.h"

namespace amlflow::runtime {

using nlohmann::json;

namespace {

std::string text_of(const json& value) {
    return value.is_string() ? value.get<std::string>() : value.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

void Executor::start_sweep(StepRun& step) {
    if (backend_.runs_sweeps(*step.plan)) return start_remote_sweep(step);
    const std::string& name = step.plan->name;
    bool bayesian = step.plan->spec.value("sampling", "") == "bayesian";
    std::vector<Trial> trials;
    if (!bayesian) {
        std::string error;
        auto drawn = draw_trials(*step.plan, &error);
        if (!drawn) return fail_step(step, error);
        trials = std::move(*drawn);
    }
    SweepRun& sweep = sweeps_[name];
    sweep.objective = objective_of(*step.plan);
    sweep.early_stop = EarlyStop(*step.plan);
    sweep.parallel = std::max(1, step.plan->spec.value("parallel", 1));
    sweep.total = static_cast<int>(trials.size());
    if (bayesian) {
        sweep.tpe = std::make_shared<TpeSampler>(bayesian_sampler(*step.plan));
        sweep.total = std::max(0, step.plan->spec.value("trials", 10));
        reporter_.note("sweep '" + name + "': bayesian sampling (TPE), the first " +
                       std::to_string(std::min(sweep.total, sweep.tpe->settings().startup)) + " trials at random");
    }
    sweep.pending = sweep.total;
    step.state = StepState::Running;
    step.started_ms = wall_ms();
    store_.set_step_state(run_id_, name, StepState::Running);
    show(step, "running");
    for (const Trial& trial : trials) add_trial(step, trial);
    if (bayesian) draw_bayesian_trials(step);
    if (sweep.total == 0) finish_sweep(step);
}

void Executor::add_trial(const StepRun& sweep_step, const Trial& trial) {
    SweepRun& sweep = sweeps_[sweep_step.plan->name];
    sweep.trials.push_back(trial);
    sweep.ended.push_back(false);
    sweep.values.emplace_back();
    const StepPlan& plan = made_plans_.emplace_back(trial_step(*sweep_step.plan, trial));
    StepRun run;
    run.plan = &plan;
    run.parent = sweep_step.plan->name;
    run.trial_index = trial.index;
    if (!previous_.count(plan.name)) store_.add_step(run_id_, plan.name, "trial", plan.hash);
    steps_.push_back(std::move(run));
}

// Bayesian sampling: each next trial as soon as every trial below its history bound
// (tpe_history_bound) has ended, from those trials' last values of the objective. A trial
// so sees the same results whenever it is drawn, whatever finished first meanwhile, and a
// resumed or cached run (whose earlier trials end with the values they had) draws it again
// at the same point.
void Executor::draw_bayesian_trials(const StepRun& step) {
    SweepRun& sweep = sweeps_[step.plan->name];
    while (static_cast<int>(sweep.trials.size()) < sweep.total && !canceling_) {
        int index = static_cast<int>(sweep.trials.size());
        int bound = tpe_history_bound(index, sweep.parallel, sweep.tpe->settings().startup);
        std::vector<TpeObservation> history;
        for (int i = 0; i < bound; ++i) {
            if (!sweep.ended[i]) return;
            if (sweep.values[i]) history.push_back({i, sweep.points[i], *sweep.values[i]});
        }
        json point = sweep.tpe->draw(index, history);
        sweep.points.push_back(point);
        add_trial(step, make_trial(*step.plan, index, point));
    }
}

void Executor::trial_finished(StepRun& trial) {
    SweepRun& sweep = sweeps_[trial.parent];
    if (trial.started_steady_ms > 0 && sweep.running > 0) --sweep.running;
    auto index = static_cast<size_t>(trial.trial_index);
    if (trial.trial_index >= 0 && index < sweep.ended.size()) {
        sweep.ended[index] = true;
        const Series& series = sweep.series[trial.plan->name];
        bool done = trial.state == StepState::Succeeded || trial.state == StepState::Cached;
        if (done && !series.empty() && std::isfinite(series.back().second)) sweep.values[index] = series.back().second;
    }
    StepRun* parent = find(trial.parent);
    if (sweep.tpe && parent && !canceling_) draw_bayesian_trials(*parent);
    if (--sweep.pending > 0) return;
    if (parent) finish_sweep(*parent);
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
        // A sweep run elsewhere: the best is the one the place named (whatever it reported).
        if (!sweep.chosen_best.empty() && trial.plan->name == sweep.chosen_best && trial.state == StepState::Succeeded) {
            best = &trial;
            best_value = series.empty() ? std::nan("") : series.back().second;
        }
        json row = {{"name", trial.plan->name}, {"state", to_string(trial.state)}};
        for (const Trial& drawn : sweep.trials) {
            if (drawn.name == trial.plan->name) row["params"] = drawn.params;
        }
        bool done = trial.state == StepState::Succeeded || trial.state == StepState::Cached;
        if (!series.empty()) row["value"] = std::isfinite(series.back().second) ? json(series.back().second) : json(nullptr);
        trials.push_back(row);
        if (!done || series.empty() || std::isnan(series.back().second) || !sweep.chosen_best.empty()) continue;
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
    if (results.count("job")) out["best.job"] = results["job"];  // a remote trial's job
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
    if (!sweep.early_stop.enabled() || canceling_ || sweep.remote) return;
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
