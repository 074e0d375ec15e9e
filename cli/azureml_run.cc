#include "cli/azureml_run.h"

#include <iostream>
#include <map>

#include "runtime/store/remote_jobs.h"

namespace amlflow::cli {

using namespace amlflow::runtime;

azureml::AzureMlBackendOptions azureml_run_options(const RunPlan& plan, RunStore& store, const std::string& run_id,
                                                   bool resumed, const std::string& python_lib) {
    azureml::AzureMlBackendOptions options;
    options.plan = plan.raw;
    options.run_store_folder = store.folder().string();
    options.python_lib = python_lib;
    std::filesystem::path run_folder = store.run_folder(run_id);
    options.job_recorded = [&store, run_folder](const azureml::RemoteJobEvent& event) {
        // The latest job in the run's record: a run whose amlflow dies is detached, not interrupted.
        if (event.state == "submitted" && !store.set_remote_job(event.run, event.job)) {
            std::cerr << "amlflow: warning: " << store.last_error() << "\n";
        }
        std::string error;
        if (!record_remote_job(run_folder, {event.step, event.attempt, event.job, event.studio, event.state, event.states},
                               &error)) {
            std::cerr << "amlflow: warning: " << error << "\n";
        }
    };
    if (resumed) {
        // A step's job that may still run, or one that completed while the run was detached
        // but whose outputs did not come back then (detached_run.h): followed, not submitted again.
        // remote-jobs.json is read once for the run, not once for every step.
        std::vector<RemoteJob> jobs = read_remote_jobs(run_folder);
        std::map<std::string, std::string> completed, live = live_remote_jobs(jobs);
        for (const RemoteJob& job : jobs) {
            if (job.state == "Completed") completed[job.step] = job.job;
        }
        auto steps = store.steps_of(run_id);
        for (const StepRecord& step : steps ? *steps : std::vector<StepRecord>{}) {
            if (step.state == StepState::Succeeded || step.state == StepState::Cached) completed.erase(step.name);
        }
        for (const StepPlan& step : plan.steps) {
            if (live.count(step.name)) {
                options.reattach[step.name] = live[step.name];
            } else if (completed.count(step.name)) {
                options.reattach[step.name] = completed[step.name];
            }
        }
    }
    return options;
}

int settle_uncanceled_jobs(const azureml::AzureMlBackend& azure, RunStore& store, const std::string& run_id, int code) {
    if (azure.uncanceled_jobs().empty()) return code;
    if (!store.set_run_state(run_id, RunState::Detached, code)) {
        std::cerr << "amlflow: warning: " << store.last_error() << "\n";
    }
    for (const std::string& job : azure.uncanceled_jobs()) {
        std::cerr << "amlflow: job '" << job << "' may still run on Azure ML; cancel it with: amlflow cancel " << run_id
                  << "\n";
    }
    return code;
}

}  // namespace amlflow::cli
