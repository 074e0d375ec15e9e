// Sweeps a place runs whole (Backend::runs_sweeps; an Azure ML sweep job on amlcompute): the
// sweep step is one attempt of that place's sweep job. The place draws the trials, runs them,
// applies the early-termination policy and names the best trial; the executor records what
// it reports. Each trial it starts becomes a trial step `tune[N]` (N the place's trial number)
// with one attempt, its ranks' logs and metrics channel in the run store as a local trial's
// are (the backend relays them there), ended as the place says (succeeded, failed, canceled,
// stopped early). When the sweep job ends, the trial the place named best gives
// `tune.best.*`, its outputs brought back by the backend. Trials run elsewhere are not cached
// one by one: a run that does not reuse the sweep submits a new sweep job.
#include "runtime/exec/executor.h"

namespace amlflow::runtime {

namespace fs = std::filesystem;
using nlohmann::json;

void Executor::start_remote_sweep(StepRun& step) {
    const std::string name = step.plan->name;
    SweepRun& sweep = sweeps_[name];
    sweep.remote = true;
    sweep.objective = objective_of(*step.plan);
    sweep.parallel = std::max(1, step.plan->spec.value("parallel", 1));
    sweep.pending = std::numeric_limits<int>::max() / 2;  // its end comes from the place, not from counting trials
    step.state = StepState::Running;
    step.started_ms = wall_ms();
    step.slots = 0;
    store_.set_step_state(run_id_, name, StepState::Running);
    show(step, "running");
    std::string error;
    if (!prepare_workdir(step, &error)) return fail_step(step, "cannot start: " + error);
    auto attempt = store_.begin_attempt(run_id_, name, 0);
    step.attempt = attempt ? *attempt : step.attempt + 1;
    AttemptRequest request;
    request.step = step.plan;
    request.environment = plan_.environment_of(*step.plan);
    request.compute = plan_.compute_of(*step.plan);
    request.workdir = step.workdir;
    std::error_code ignored;
    request.plan_folder = fs::absolute(options_.plan_folder, ignored).lexically_normal().string();
    fs::path folder = store_.run_folder(run_id_) / name;
    RetryPolicy policy = RetryPolicy::from_spec(step.plan->spec);
    request.context = {run_id_, name, step.attempt, policy.max_restarts(), "127.0.0.1", 0,
                       store_.step_outputs(run_id_, name).string(), store_.step_checkpoints(run_id_, name).string(),
                       (folder / "logs").string(), "", {}, options_.python_lib,
                       store_.attempt_logs(run_id_, name, step.attempt).string()};
    request.results = results_;
    reporter_.note("sweep '" + name + "': runs as one sweep job on compute '" +
                   step.plan->compute.substr(step.plan->compute.find(':') + 1) + "'; the service draws its trials");
    AttemptCallbacks callbacks;
    int number = step.attempt;
    callbacks.trial_started = [this, name](const TrialStart& start) { return remote_trial_started(name, start); };
    callbacks.trial_ended = [this, name](const TrialEnd& end) { remote_trial_ended(name, end); };
    callbacks.place_states = [this, name](const std::vector<PlaceState>& states) {
        if (StepRun* step = find(name)) {
            step->place_states = states;
            show(*step, "running");
        }
    };
    callbacks.done = [this, name, number](const AttemptResult& result) { remote_sweep_done(name, number, result); };
    backend_.start(request, callbacks);
}

TrialFiles Executor::remote_trial_started(const std::string& sweep_name, const TrialStart& start) {
    StepRun* sweep_step = find(sweep_name);
    TrialFiles files;
    if (!sweep_step) return files;
    Trial trial = make_trial(*sweep_step->plan, start.index, start.params);
    files.name = trial.name;
    if (!find(trial.name)) add_trial(*sweep_step, trial);
    StepRun& run = *find(trial.name);
    run.looked_up = true;  // run by the place: neither cached nor resumed one by one
    run.remote_job = start.remote_job;
    run.state = StepState::Running;
    run.slots = 0;
    run.started_ms = wall_ms();
    run.started_steady_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                EventLoop::Clock::now().time_since_epoch()).count();
    ++active_;
    ++sweeps_[sweep_name].running;
    store_.set_step_state(run_id_, trial.name, StepState::Running);
    auto attempt = store_.begin_attempt(run_id_, trial.name, 0);
    run.attempt = attempt ? *attempt : 0;
    fs::path folder = store_.run_folder(run_id_) / trial.name;
    fs::path metrics = folder / "metrics" / ("attempt-" + std::to_string(shown_attempt(run.attempt)));
    std::error_code ignored;
    fs::create_directories(metrics, ignored);
    fs::create_directories(store_.step_outputs(run_id_, trial.name), ignored);
    fs::create_directories(folder / "logs", ignored);
    run.metrics = std::make_shared<MetricsReader>(run_id_, trial.name, run.attempt, metrics);
    if (!metrics_timer_) {
        metrics_timer_ = loop_.after(std::chrono::milliseconds(options_.metrics_interval_ms), [this] { read_all_metrics(); });
    }
    run.processes = backend_.process_count(trial_step(*sweep_step->plan, trial));
    run.alive = run.processes;
    for (int rank = 0; rank < run.processes; ++rank) {
        files.rank_logs.push_back(store_.rank_log(run_id_, trial.name, run.attempt, rank).string());
    }
    files.metrics_folder = metrics.string();
    files.outputs = store_.step_outputs(run_id_, trial.name).string();
    reporter_.attempt_started(trial.name, run.attempt, run.processes, 0, false);
    reporter_.note("trial '" + trial.name + "' is job '" + start.remote_job + "': " + trial.params.dump());
    show(run, "running");
    return files;
}

void Executor::remote_trial_ended(const std::string& sweep_name, const TrialEnd& end) {
    std::string name = sweep_name + "[" + std::to_string(end.index) + "]";
    StepRun* run = find(name);
    if (!run || run->state != StepState::Running) return;
    read_metrics(*run, true);
    run->alive = 0;
    if (end.state == "succeeded") {
        store_.finish_attempt(run_id_, name, run->attempt, AttemptState::Succeeded);
        fs::path folder = store_.run_folder(run_id_) / name;
        succeed(*run, {{"outputs", store_.step_outputs(run_id_, name).string()},
                       {"logs", (folder / "logs").string()},
                       {"run", run_id_},
                       {"step", name},
                       {"attempt", std::to_string(run->attempt)}});
        return;
    }
    AttemptResult result;
    result.message = end.message;
    result.facts.reason = end.state == "failed" ? "exit" : "canceled";
    bool early = end.state == "stopped_early";
    if (early) reporter_.note("trial '" + name + "' " + end.message);
    store_.finish_attempt(run_id_, name, run->attempt,
                          early ? AttemptState::StoppedEarly
                                : end.state == "canceled" ? AttemptState::Canceled : AttemptState::Failed,
                          failure_json(result));
    run->last = result;
    finish_step(*run, early ? StepState::StoppedEarly : end.state == "canceled" ? StepState::Canceled : StepState::Failed);
}

void Executor::remote_sweep_done(const std::string& sweep_name, int attempt, const AttemptResult& result) {
    StepRun* step = find(sweep_name);
    if (!step || step->state != StepState::Running) return;
    SweepRun& sweep = sweeps_[sweep_name];
    if (result.succeeded && result.best_trial >= 0) {
        store_.finish_attempt(run_id_, sweep_name, attempt, AttemptState::Succeeded);
        sweep.chosen_best = sweep_name + "[" + std::to_string(result.best_trial) + "]";
        return finish_sweep(*step);
    }
    bool canceled = canceling_ || result.facts.reason == "canceled";
    store_.finish_attempt(run_id_, sweep_name, attempt, canceled ? AttemptState::Canceled : AttemptState::Failed,
                          failure_json(result));
    step->last = result;
    if (canceled) return finish_step(*step, StepState::Canceled);
    fail_step(*step, result.message);
}

}  // namespace amlflow::runtime
