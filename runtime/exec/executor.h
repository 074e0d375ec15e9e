// The executor: runs a plan's steps over a backend, dependents after what they need,
// independent steps side by side within the machine's slots (GPUs, else CPU cores). It
// owns attempts and restarts (the retry policy), sweeps' trials and early stopping, the
// steps that act on results (register, download, export), the cache, the run store's
// records, Ctrl-C, and the exit code; it never touches a pid.
//
// Files: executor.cc (scheduling, states), executor_jobs.cc (attempts of a job, its
// metrics), executor_reuse.cc (cache keys, cached and resumed steps, references),
// executor_sweeps.cc (trials, best trial, early stop), executor_actions.cc (register,
// download, export), executor_fetch.cc (remote files fetched back before a step reads them).
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "runtime/exec/host_slots.h"
#include <string>
#include <vector>

#include "runtime/core/artifacts.h"
#include "runtime/core/backend.h"
#include "runtime/core/event_loop.h"
#include "runtime/core/gpu_discovery.h"
#include "runtime/core/value_text.h"
#include "runtime/store/metrics_reader.h"
#include "runtime/report/run_reporter.h"
#include "runtime/store/run_store.h"
#include "runtime/exec/sweep_plan.h"

namespace amlflow::runtime {

struct ExecutorOptions {
    std::filesystem::path plan_folder;  // relative paths in the plan start here
    std::vector<std::string> only;      // --step: run these (and what they need)
    int cpu_slots = 1;
    std::string store_hint;  // what `runs show` needs to find this store: " --file F", or 
    GpuInventory gpus;
    bool force = false;                 // --force: reuse nothing from the cache
    std::set<std::string> force_steps;  // --force-step: these are not reused from the cache
    bool resume = false;                // the run exists: keep its completed steps
    // --resume with --force-step: these run again even if the run completed them (the
    // run's own recorded --force and --force-step only keep the cache away).
    std::set<std::string> rerun_steps;
    std::string python_lib;             // amlflow's Python helpers (python_lib.h)
    // --recheck-env: ask each environment's interpreter for its packages again, instead of
    // trusting a stamp of an earlier check (environment_stamp.h).
    bool recheck_environments = false;
    int metrics_interval_ms = 1000;     // how often running steps' metrics are read
};

class Executor {
public:
    Executor(EventLoop& loop, RunStore& store, Backend& backend, const RunPlan& plan,
             ExecutorOptions options, RunReporter& reporter);

    // Runs the plan to its end; the interpreter's exit code: 0, 2 a step failed, 130 canceled.
    int run(const std::string& run_id);

private:
    struct StepRun {
        const StepPlan* plan = nullptr;
        StepState state = StepState::Pending;
        std::set<std::string> waiting_for;  // step names not yet succeeded
        bool looked_up = false;             // the cache (and resume) were asked
        std::string cache_key;
        std::string parent;                 // a trial: its sweep
        int trial_index = -1;               // a trial: its index in the sweep
        std::string action;                 // "export" for an export's exporter process
        bool stopped_early = false;         // the sweep's policy asked the backend to stop it
        bool carried = false;               // --resume: completed before, kept as it was
        int attempt = -1;
        int clean_exits = 0;                // ranks of the attempt that exited 0 on their own
        int restarts_used = 0;
        int slots = 1;
        std::vector<int> gpus;
        std::vector<HostSlots::Taken> hosts;  // on a hosts compute: the hosts and slots it holds
        std::string workdir;
        EventLoop::TimerId restart_timer = 0;
        int64_t started_ms = 0;
        int64_t started_steady_ms = 0;
        int64_t finished_ms = 0;
        int processes = 0, alive = 0;
        AttemptResult last;
        std::shared_ptr<MetricsReader> metrics;  // of the running attempt
        std::vector<PlaceState> place_states;    // of the running attempt, where the place has its own
        std::string remote_job;             // the job its outputs came from, where it ran remotely
        int fetching = 0;                   // its inputs' files still coming back (executor_fetch.cc)
        bool fetched = false;               // their fetch was asked for (or not needed)
    };
    struct SweepRun {
        std::vector<Trial> trials;
        int running = 0, parallel = 1, pending = 0;
        Objective objective;
        EarlyStop early_stop;
        std::map<std::string, Series> series;  // trial -> objective values (rank 0)
        // sampling = bayesian: trials are drawn as the results they depend on arrive.
        std::shared_ptr<TpeSampler> tpe;
        int total = 0;                      // trials the sweep runs, drawn or not yet
        std::vector<nlohmann::json> points;  // each drawn trial's point, as sampled
        std::vector<bool> ended;            // each drawn trial: in a final state
        std::vector<std::optional<double>> values;  // ... and its objective's last value
        // The place runs the sweep whole (Backend::runs_sweeps): trials come as it reports them,
        // it stops them early, and it names the best.
        bool remote = false;
        std::string chosen_best;            // the best trial as the place named it
    };

    // Unix milliseconds, as the run store keeps times.
    static int64_t wall_ms() {
        using namespace std::chrono;
        return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    }

    // executor.cc
    void show(const StepRun& step, const char* state);
    StepRun* find(const std::string& name);
    void schedule();
    void dispatch(StepRun& step);
    bool can_start(const StepRun& step) const;
    std::string compute_kind(const StepRun& step) const;  // "" for a step on no compute
    bool on_hosts(const StepRun& step) const;
    // On hosts or on Azure ML: no slot, GPU or interpreter of this machine is its.
    bool off_machine(const StepRun& step) const;
    // `record`: false when the store already says so (a cached or resumed step).
    void finish_step(StepRun& step, StepState state, bool record = true);
    void record_step_end(const StepRun& step, StepState state);
    void fail_step(StepRun& step, const std::string& message);
    void skip_dependents(const std::string& failed);
    void cancel(bool force);
    bool all_final() const;
    int exit_code() const;  // of the run as its steps stand
    int summarize();
    std::vector<StepSummary> summary_rows();

    // executor_jobs.cc
    void start_step(StepRun& step);
    void start_attempt(StepRun& step);
    AttemptCallbacks attempt_callbacks(const std::string& name, int number);
    bool prepare_workdir(StepRun& step, std::string* error);
    bool prepare_environment(const std::string& environment_id, std::string* error);
    std::string interpreter_of(const std::string& environment_id) const;
    void attempt_done(StepRun& step, int attempt, const AttemptResult& result);
    bool ran_to_the_end(const StepRun& step) const;
    std::string failure_json(const AttemptResult& result) const;
    void read_metrics(StepRun& step, bool final);
    void read_all_metrics();

    // executor_reuse.cc
    bool reuse(StepRun& step);
    bool reuse_from_resumed_run(StepRun& step);
    bool reuse_from_cache(StepRun& step);
    std::optional<std::string> compute_cache_key(const StepRun& step, std::string* error);
    bool check_references(const StepRun& step, std::string* error);
    void succeed(StepRun& step, std::map<std::string, std::string> results, nlohmann::json extra = {});

    // executor_sweeps.cc
    void start_sweep(StepRun& step);
    void add_trial(const StepRun& sweep, const Trial& trial);
    void draw_bayesian_trials(const StepRun& sweep);
    void trial_finished(StepRun& trial);
    void finish_sweep(StepRun& sweep);
    void check_early_stop(const std::string& sweep);
    void load_trial_series(const StepRun& trial, const std::string& origin_run, const std::string& origin_step);

    // executor_remote_sweeps.cc
    void start_remote_sweep(StepRun& step);
    TrialFiles remote_trial_started(const std::string& sweep, const TrialStart& start);
    void remote_trial_ended(const std::string& sweep, const TrialEnd& end);
    void remote_sweep_done(const std::string& sweep, int attempt, const AttemptResult& result);

    // executor_actions.cc
    void begin_action(StepRun& step);
    void run_register(StepRun& step);
    void register_in_place(StepRun& step, const NewModel& model, const FilesFetch& place,
                           const std::filesystem::path& local, const nlohmann::json& tags);
    void finish_register(StepRun& step, NewModel model, std::map<std::string, std::string> place);
    void run_download(StepRun& step);
    void start_export(StepRun& step);
    void export_done(StepRun& step);
    std::optional<ResolvedOutput> resolve_path_field(const StepRun& step, const char* field, std::string* error);
    ArgumentContext text_context() const;  // for value_text.h: finished steps' results

    // executor_fetch.cc: files of a remote job (or a model registered from one) that the
    // place keeps but this machine lacks, fetched before a step reads them.
    bool fetch_missing_inputs(StepRun& step);
    std::optional<FilesFetch> remote_files(const nlohmann::json& reference, const ResolvedOutput& resolved) const;
    void fetched(const std::string& to, const std::string& error);

    EventLoop& loop_;
    RunStore& store_;
    Backend& backend_;
    const RunPlan& plan_;
    ExecutorOptions options_;
    RunReporter& reporter_;
    std::string run_id_;
    std::deque<StepRun> steps_;        // plan order, then trials as sweeps draw them
    std::deque<StepPlan> made_plans_;  // trials' and exporters' plans (stable addresses)
    std::set<std::string> needed_;     // the steps this run executes
    std::map<std::string, SweepRun> sweeps_;
    StepResults results_;              // finished steps' results, for references
    std::map<std::string, StepRecord> previous_;  // --resume: the run's records so far
    int free_slots_ = 0;
    HostSlots host_slots_;             // hosts computes' slots, taken by the jobs there
    std::set<int> free_gpus_;
    std::map<std::string, std::string> interpreters_;  // environment id -> the python that has its packages
    EventLoop::TimerId metrics_timer_ = 0;
    int active_ = 0;
    bool canceling_ = false;
    bool run_recorded_ = false;  // the run's end is in the store (with its last step's)
    int interrupts_ = 0;
    int scheduling_ = 0;  // schedule() re-entered from a step finishing inside it
    std::map<std::string, std::vector<std::string>> fetch_waiters_;  // local path -> steps waiting for its fetch
};

}  // namespace amlflow::runtime
