// What the Azure ML backend keeps of one attempt of a step while it runs: its workspace
// client, the job's name and state, the relays of its ranks' logs, the watches of the job or
// sweep job. Private to the backend's files (azureml_backend.cc, azureml_backend_sweeps.cc).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/azureml/arm_client.h"
#include "runtime/azureml/azureml_backend.h"
#include "runtime/azureml/command_job.h"
#include "runtime/azureml/compute_setup.h"
#include "runtime/azureml/job_artifacts.h"
#include "runtime/azureml/job_inputs.h"
#include "runtime/azureml/job_watch.h"
#include "runtime/azureml/mlflow_metrics.h"
#include "runtime/azureml/sweep_watch.h"
#include "runtime/core/log_relay.h"

namespace amlflow::runtime::azureml {

struct AzureMlBackend::Attempt {
    AttemptRequest request;
    AttemptCallbacks callbacks;
    std::unique_ptr<ArmClient> arm;
    std::string compute;               // the cluster's name in the workspace
    std::string workspace_key;
    JobIds ids;
    std::string job;                   // the job's name once it is being submitted
    bool submitted = false, stopping = false, cancel_sent = false, ranks_started = false;
    std::string stop_why;
    std::vector<std::unique_ptr<LogRelay>> relays;
    std::shared_ptr<ComputeSetup> setup;
    std::shared_ptr<JobWatch> watch;
    std::shared_ptr<SweepWatch> sweep;       // a sweep step's sweep job
    std::shared_ptr<MlflowMetrics> metrics;  // a job's metrics from the tracking server
    std::optional<AttemptResult> result;  // held while the outputs come back
    std::shared_ptr<JobInputs> inputs;
    std::string studio;                // the job's page in Azure ML studio
    std::string reattach;              // --resume: the job to follow instead of a new one
    // The service's states as seen, with when each began (for the board and the summary).
    std::vector<std::pair<std::string, EventLoop::Clock::time_point>> states;
    EventLoop::Clock::time_point running_since{};
    EventLoop::TimerId silence_timer = 0;
    bool hung = false;
    int hung_rank = -1;
};

}  // namespace amlflow::runtime::azureml
