// The Azure ML backend's sweep steps (Backend::runs_sweeps): one sweep job on the service,
// its trials followed as they appear, the best trial's outputs brought back.
#include "runtime/azureml/azureml_attempt.h"
#include "runtime/azureml/azureml_backend.h"
#include "runtime/azureml/sweep_job.h"

namespace amlflow::runtime::azureml {

// A sweep job: the sweep's own states are shown, each trial followed as it appears (its
// ranks' logs relayed, its metrics read into its channel), and at the end the best trial's
// outputs brought into that trial's outputs folder.
void AzureMlBackend::watch_sweep(Attempt& attempt) {
    std::string step = attempt.request.step->name;
    SweepWatchOptions options;
    options.job.job = attempt.job;
    options.job.history_base = workspaces_[attempt.workspace_key].history_base;
    options.job.log_interval = options_.log_interval;
    options.job.status_interval = options_.status_interval;
    options.experiment = experiment_name(attempt.request.step->experiment);
    options.mlflow_base = workspaces_[attempt.workspace_key].mlflow_base;
    auto state = [this, step](const std::string& status) { state_seen(step, status); };
    auto started = [this, step](const TrialStart& trial) {
        Attempt* attempt = find(step);
        if (!attempt || !attempt->callbacks.trial_started) return TrialFiles{};
        say(*attempt, "trial job '" + trial.remote_job + "' started: " + trial.params.dump());
        return attempt->callbacks.trial_started(trial);
    };
    auto ended = [this, step](const TrialEnd& trial) {
        Attempt* attempt = find(step);
        if (attempt && attempt->callbacks.trial_ended) attempt->callbacks.trial_ended(trial);
    };
    attempt.sweep = std::make_shared<SweepWatch>(*attempt.arm, sink_, options, started, ended, state,
                                                 [this, step](const SweepEnd& end) { sweep_ended(step, end); });
    attempt.sweep->start();
}

void AzureMlBackend::sweep_ended(const std::string& step, const SweepEnd& end) {
    Attempt* attempt = find(step);
    if (!attempt) return;
    if (!attempt->states.empty()) say(*attempt, "service states: " + state_durations(attempt->states, EventLoop::Clock::now()));
    record(*attempt, end.status);
    AttemptResult result;
    result.remote_job = attempt->job;
    result.succeeded = end.status == "Completed" && end.best_index >= 0;
    if (!result.succeeded) {
        bool canceled = end.status == "Canceled" && attempt->stopping;
        result.facts.reason = canceled ? "canceled" : "exit";
        result.facts.exit_code = canceled ? -1 : 1;
        result.message = canceled ? attempt->stop_why
                                  : "sweep job '" + attempt->job + "' ended " + end.status +
                                        (end.error.empty() ? (end.status == "Completed" ? ": the service named no best trial" : "")
                                                           : ": " + end.error);
        return finish(step, result);
    }
    result.best_trial = end.best_index;
    say(*attempt, "best trial: job '" + end.best_job + "' (" + end.best_files.name + ")");
    attempt->result = result;
    completed_jobs_[end.best_files.name] = end.best_job;  // later steps read its outputs there
    ArtifactTargets best;
    best.outputs = end.best_files.outputs;
    bring_outputs(step, end.best_job, best);
}

}  // namespace amlflow::runtime::azureml
