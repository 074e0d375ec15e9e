// The one interface every backend implements (local processes now; Open MPI hosts and
// Azure ML later): start an attempt of a job, report how it ended, stop it. The executor
// schedules the plan over it and never touches a pid.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "runtime/core/plan_model.h"
#include "runtime/core/rank_env.h"
#include "runtime/core/retry_policy.h"

namespace amlflow::runtime {

// One attempt of one job, as the executor asks for it.
struct AttemptRequest {
    const StepPlan* step = nullptr;
    nlohmann::json environment;   // the environment node's fields
    nlohmann::json compute;       // the compute's fields and $kind
    std::string workdir;          // the source snapshot; the job's working directory
    AttemptContext context;       // run, step, attempt, port, folders, GPUs
    std::vector<std::string> rank_logs;  // a log file per process the backend starts
    // Where finished steps' results are: step name -> {"outputs": dir, "logs": dir}.
    std::map<std::string, std::map<std::string, std::string>> results;
    // The pipeline file's folder, absolute: relative paths in the plan start there.
    std::string plan_folder;
};

// A process the backend started (for the run store and the board).
struct StartedProcess {
    int rank = 0, local_rank = 0, node_rank = 0;
    long pid = 0;                  // on its host
    std::string log_path;
    std::string host;              // where it runs, as the compute lists it; "" for this machine
};

struct AttemptResult {
    bool succeeded = false;
    FailureFacts facts;            // why it failed: reason, exit code or signal, last lines
    int root_rank = -1;            // the first rank to fail, -1 for none (timeout, cancel)
    std::string message;           // "rank 1 exited with code 1"
    std::string root_log;          // that rank's log file
    std::string error_file;        // that rank's torchelastic error file as written, or ""
    std::string remote_job;        // the job's name where it ran elsewhere (Azure ML), or ""
    int best_trial = -1;           // a sweep attempt: the trial the place found best
};

// A sweep the place runs as one job of its own (an Azure ML sweep job, Backend::runs_sweeps):
// the place draws the trials, so it tells the executor of each as it appears and ends.
struct TrialStart {
    int index = 0;                 // the place's trial number
    nlohmann::json params;         // swept name -> value, as the place drew it
    std::string remote_job;        // the trial's own job name there
};
// Where a trial's records go, as the executor answers TrialStart.
struct TrialFiles {
    std::string name;              // "tune[3]"
    std::vector<std::string> rank_logs;
    std::string metrics_folder;    // the trial's metrics channel (rank-0.jsonl)
    std::string outputs;           // its outputs folder (filled for the best trial)
};
struct TrialEnd {
    int index = 0;
    std::string state;             // "succeeded", "failed", "canceled", "stopped_early"
    std::string message;
};

// A state of the place's own that an attempt walks (an Azure ML job: Queued, Preparing,
// Running, Finalizing, ...), in the place's word and in amlflow's, and when it was first seen
// (steady milliseconds, as the board counts).
struct PlaceState {
    std::string name;   // "Preparing"
    std::string ours;   // "preparing"
    int64_t since_ms = 0;
    bool final = false;  // a state the place ends in (Completed, Failed, ...): it takes no time
};

struct AttemptCallbacks {
    std::function<void(const StartedProcess&)> started;
    // Every state the attempt has walked so far, oldest first, each time a new one is seen.
    std::function<void(const std::vector<PlaceState>&)> place_states;
    std::function<void(int rank, int exit_code, int signal)> exited;
    std::function<void(const AttemptResult&)> done;  // exactly once
    // For a place that checks first (Backend::checks_first): the check passed, and the ranks
    // start now. At most once, before any `started`; never when the check failed.
    std::function<void()> checked;
    // The ranks meet on another MASTER_PORT than the one asked for: it was taken on the host
    // where they meet (hosts). Before any rank starts; at most once.
    std::function<void(int port)> port_moved;
    // Only for a sweep attempt (runs_sweeps): each trial as the place starts and ends it.
    std::function<TrialFiles(const TrialStart&)> trial_started;
    std::function<void(const TrialEnd&)> trial_ended;
};

// A model registered in the place's own model registry (an Azure ML workspace's models)
// from the outputs of a job that ran there (Backend::register_model).
struct ModelRegistration {
    std::string name;              // the model's name
    std::string job;               // the place's job whose outputs hold it
    std::string path;              // its files below the job's artifacts: "outputs/model.pt"
    std::string local;             // the local copy (its kind decides the model's type)
    std::string digest;            // the content's sha256: the same content is one version
    std::string description;
    std::map<std::string, std::string> tags;
    nlohmann::json compute;        // the compute the job ran on (its $kind and workspace)
    std::string plan_folder;       // the pipeline file's folder (a config.json there)
};
struct PlaceModel {
    std::string error;             // "" when registered
    nlohmann::json record;         // where it lives: workspace, name, version, id, uri, type
    std::string shown;             // "model 'm' version 3 in workspace 'ws'"
    bool existing = false;         // that content was registered there already
};
// Files a job left at its place, fetched back into this machine (Backend::fetch_files): the
// local copy of a step's outputs is gone (garbage-collected) or was never here.
struct FilesFetch {
    std::string job;               // the place's job
    std::string path;              // below the job's artifacts: "outputs", "outputs/model.pt"
    std::string uri;               // or the place's own address of the files (a model's URI)
    std::string to;                // the local file or folder to fill
    nlohmann::json compute;
    std::string plan_folder;
};

struct GroupOutcome;
// What the executor is told of a supervised group's end (core/group_outcome.h); `rank_logs`
// names the root cause's log.
AttemptResult attempt_result_from(const GroupOutcome& outcome, const std::vector<std::string>& rank_logs);

class Backend {
public:
    virtual ~Backend() = default;
    // How many processes `request` needs (one log each), so the executor can name logs.
    virtual int process_count(const StepPlan& step) const = 0;
    // Starts the attempt; progress and the end come through `callbacks`, from the loop.
    virtual void start(const AttemptRequest& request, AttemptCallbacks callbacks) = 0;
    // Stops every attempt still running (Ctrl-C): SIGTERM, then SIGKILL after the grace
    // period, or SIGKILL at once when `immediately`. Each attempt still reports done.
    virtual void stop_all(const std::string& why, bool immediately) = 0;
    // Stops the running attempt of one step the same way (a sweep's early stop); it
    // still reports done, with reason "canceled".
    virtual void stop(const std::string& step, const std::string& why) = 0;
    // Whether an attempt of this step is running.
    virtual bool running(const std::string& step) const = 0;
    // Whether an attempt of `step` is checked at its place before any rank starts (hosts:
    // every host reachable, with what the job needs), and says when that passed through
    // AttemptCallbacks::checked; the executor says the attempt started only then.
    virtual bool checks_first(const StepPlan& step) const {
        (void)step;
        return false;
    }
    // Whether this place runs the sweep `step` whole, as one attempt that draws, runs and
    // judges its trials itself (an Azure ML sweep job), rather than trial by trial.
    virtual bool runs_sweeps(const StepPlan& step) const {
        (void)step;
        return false;
    }
    // Registers a model in the place's own registry; `done` runs once, from the loop or
    // before this returns. A place without a registry says so in `error`.
    virtual void register_model(const ModelRegistration& model, std::function<void(PlaceModel)> done) {
        (void)model;
        done(PlaceModel{"this place keeps no model registry", nullptr, "", false});
    }
    // Fetches files a job left at its place; `done` gets "" or why not, once, from the loop
    // or before this returns.
    virtual void fetch_files(const FilesFetch& fetch, std::function<void(std::string error)> done) {
        (void)fetch;
        done("this place keeps no files of its own");
    }
};

}  // namespace amlflow::runtime
