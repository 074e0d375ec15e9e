// The executor: runs a plan's steps over a backend, dependents after what they need,
// independent steps side by side within the machine's slots (GPUs, else CPU cores). It
// owns attempts and restarts (the retry policy), the run store's records, Ctrl-C, and
// the exit code; it never touches a pid.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "runtime/backend.h"
#include "runtime/event_loop.h"
#include "runtime/gpu_discovery.h"
#include "runtime/run_store.h"
#include "runtime/run_reporter.h"

namespace amlflow::runtime {

struct ExecutorOptions {
    std::filesystem::path plan_folder;  // relative paths in the plan start here
    std::vector<std::string> only;      // --step: run these (and what they need)
    int cpu_slots = 1;
    std::string store_hint;  // what `runs show` needs to find this store: " --file F", or 
    GpuInventory gpus;
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
        int attempt = -1;
        int restarts_used = 0;
        int slots = 1;
        std::vector<int> gpus;
        std::string workdir;
        EventLoop::TimerId restart_timer = 0;
        int64_t started_ms = 0;
        int64_t started_steady_ms = 0;
        int64_t finished_ms = 0;
        int processes = 0, alive = 0;
        AttemptResult last;
    };
    void show(const StepRun& step, const char* state);

    StepRun* find(const std::string& name);
    void schedule();
    bool can_start(const StepRun& step) const;
    void start_step(StepRun& step);
    void start_attempt(StepRun& step);
    bool prepare_workdir(StepRun& step, std::string* error);
    bool prepare_environment(const StepRun& step, std::string* error);
    void attempt_done(StepRun& step, int attempt, const AttemptResult& result);
    void finish_step(StepRun& step, StepState state);
    void skip_dependents(const std::string& failed);
    void cancel(bool force);
    bool all_final() const;
    std::string failure_json(const AttemptResult& result) const;

    EventLoop& loop_;
    RunStore& store_;
    Backend& backend_;
    const RunPlan& plan_;
    ExecutorOptions options_;
    RunReporter& reporter_;
    std::string run_id_;
    std::vector<StepRun> steps_;  // in plan order
    std::set<std::string> needed_;  // the steps this run executes
    int free_slots_ = 0;
    std::set<int> free_gpus_;
    std::map<std::string, std::string> interpreters_;  // environment id -> the python that has its packages
    int active_ = 0;
    bool canceling_ = false;
    int interrupts_ = 0;
};

}  // namespace amlflow::runtime
