// The backend for an `amlcompute` compute (DESIGN §5, issue 18): each attempt of a job
// becomes an Azure ML command job, spoken to over the REST API from the event loop.
//
// An attempt goes: the workspace (its location and run history's address, once per
// workspace) → the cluster made ready (compute_setup.h, once per compute) → the environment
// version (environment_asset.h) → the code version found by hash or uploaded (code_asset.h)
// → the job PUT under its deterministic name (command_job.h; a repeated PUT is safe) → the job
// followed (job_watch.h: states shown, every rank's log relayed live into its local log) →
// on Completed, the job's ./outputs downloaded into the step's outputs folder. A stop (Ctrl-C,
// a sweep's early stop) before the PUT ends the attempt at once; after it, the job is
// canceled on the service (POST cancel) and the attempt ends when the service says Canceled.
// A failed job is reported with the service's error and the last lines of the rank that
// failed first, so the executor's restart policy submits the next attempt as a new job.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/azureml/arm_client.h"
#include "runtime/azureml/blob_storage.h"
#include "runtime/core/backend.h"
#include "runtime/core/log_relay.h"

namespace amlflow::runtime::azureml {

struct RemoteJobEvent {
    std::string run, step, job, studio;
    int attempt = 0;
    std::string state;  // "submitted", or the service's end state
    // At the end: each state the job walked and the seconds it spent there, oldest first.
    std::vector<std::pair<std::string, double>> states;
};

struct AzureMlBackendOptions {
    nlohmann::json plan;                // the whole plan: its workspaces
    std::string run_store_folder;       // kept out of code snapshots; unfinished uploads recorded in it
    // Run history (logs) and the resource manager's job status are polled this often; 0:
    // the defaults (1 s for logs; 10 s for the status, 1 s when the endpoint is loopback).
    std::chrono::milliseconds log_interval{0};
    std::chrono::milliseconds status_interval{0};
    BlobOptions blob;
    // Told of each job: once the service has it (state "submitted", with its studio link),
    // and when it ended (its end state). The run store records them (store/remote_jobs.h).
    std::function<void(const RemoteJobEvent&)> job_recorded;
    // `run --resume` of a detached run: step -> the job its dead amlflow left running. The
    // step's next attempt follows that job instead of submitting another.
    std::map<std::string, std::string> reattach;
    // amlflow's Python helper folder, shipped to every job as an input (job_inputs.h).
    std::string python_lib;
};

class AzureMlBackend : public Backend {
public:
    AzureMlBackend(EventLoop& loop, AzureMlBackendOptions options, LineSink* sink);
    ~AzureMlBackend() override;

    int process_count(const StepPlan& step) const override;
    void start(const AttemptRequest& request, AttemptCallbacks callbacks) override;
    void stop_all(const std::string& why, bool immediately) override;
    void stop(const std::string& step, const std::string& why) override;
    bool running(const std::string& step) const override;
    // A sweep on amlcompute runs as one Azure ML sweep job (sweep_job.h, sweep_watch.h).
    bool runs_sweeps(const StepPlan& step) const override { return step.kind == "sweep"; }

    // Jobs a stop could not cancel on the service (it could not be reached): they may still
    // run, and `amlflow cancel RUN` can finish them later.
    const std::vector<std::string>& uncanceled_jobs() const { return uncanceled_; }

    // The workspace's model registry and a job's files (azureml_backend_models.cc): a model
    // version registered from a job's outputs (workspace_models.h), files fetched back.
    void register_model(const ModelRegistration& model, std::function<void(PlaceModel)> done) override;
    void fetch_files(const FilesFetch& fetch, std::function<void(std::string)> done) override;

private:
    struct Attempt;
    struct Workspace {
        std::string location;
        std::string history_base;
        std::string mlflow_base;  // the workspace's MLflow tracking server (mlflow_metrics.h)
    };
    bool connect(std::string* error);
    void open_workspace(Attempt& attempt);
    void ready_compute(Attempt& attempt);
    void ready_assets(Attempt& attempt);
    void ready_inputs(Attempt& attempt);
    void submit(Attempt& attempt);
    void reattach(Attempt& attempt);
    void watch(Attempt& attempt);
    void state_seen(const std::string& step, const std::string& status);
    void check_silence(const std::string& step);
    void job_ended(const std::string& step, const struct JobEnd& end);
    void bring_back(const std::string& step, bool completed);
    void bring_outputs(const std::string& step, const std::string& job, const struct ArtifactTargets& to);
    void record(const Attempt& attempt, const std::string& state);
    void watch_sweep(Attempt& attempt);
    void sweep_ended(const std::string& step, const struct SweepEnd& end);
    void cancel_job(Attempt& attempt);
    void say(const Attempt& attempt, const std::string& text);
    void fail_setup(const std::string& step, const std::string& message);
    void finish(const std::string& step, AttemptResult result);
    Attempt* find(const std::string& step);
    // azureml_backend_models.cc: the client of the workspace a compute names, and the
    // workspace calls in flight (stop_all ends them as canceled).
    ArmClient* workspace_client(const nlohmann::json& compute, const std::string& plan_folder, std::string* error);
    std::uint64_t track_call(std::function<void(const std::string& why)> cancel);
    bool end_call(std::uint64_t id);
    void cancel_calls(const std::string& why);

    EventLoop& loop_;
    AzureMlBackendOptions options_;
    LineSink* sink_;
    std::unique_ptr<HttpClient> http_;
    std::unique_ptr<RetryingClient> client_;
    std::unique_ptr<class DefaultCredential> credential_;
    std::unique_ptr<ArmEndpoint> endpoint_;
    std::map<std::string, Workspace> workspaces_;  // by subscription/group/name
    std::set<std::string> computes_ready_;
    std::map<std::string, std::string> completed_jobs_;  // step -> the job that made its outputs
    std::vector<std::string> uncanceled_;
    std::map<std::string, std::unique_ptr<Attempt>> running_;
    std::vector<std::unique_ptr<Attempt>> finished_;
    std::vector<std::unique_ptr<ArmClient>> retired_;  // of finished attempts (see finish)
    std::map<std::string, std::unique_ptr<ArmClient>> workspace_clients_;  // by workspace, for model calls
    std::map<std::uint64_t, std::function<void(const std::string&)>> calls_;
    std::uint64_t next_call_ = 1;
};

}  // namespace amlflow::runtime::azureml
