#include "runtime/executor.h"

#include <unistd.h>

#include "runtime/environment_check.h"
#include "runtime/free_port.h"
#include "runtime/snapshot.h"

namespace amlflow::runtime {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

Executor::Executor(EventLoop& loop, RunStore& store, Backend& backend, const RunPlan& plan, ExecutorOptions options,
                   RunReporter& reporter)
    : loop_(loop), store_(store), backend_(backend), plan_(plan), options_(std::move(options)), reporter_(reporter) {
    free_slots_ = options_.gpus.gpus.empty() ? std::max(1, options_.cpu_slots) : static_cast<int>(options_.gpus.gpus.size());
    for (const Gpu& gpu : options_.gpus.gpus) free_gpus_.insert(gpu.index);
    // --step: the named steps and, transitively, what they need.
    std::vector<std::string> pending = options_.only;
    if (pending.empty()) {
        for (const StepPlan& step : plan_.steps) needed_.insert(step.name);
    }
    while (!pending.empty()) {
        std::string name = pending.back();
        pending.pop_back();
        const StepPlan* step = plan_.find(name);
        if (!step || !needed_.insert(step->name).second) continue;
        for (const std::string& need : step->needs) pending.push_back(need.substr(need.find(':') + 1));
    }
    for (const StepPlan& step : plan_.steps) {
        if (!needed_.count(step.name)) continue;
        StepRun run;
        run.plan = &step;
        for (const std::string& need : step.needs) run.waiting_for.insert(need.substr(need.find(':') + 1));
        steps_.push_back(std::move(run));
    }
}

int Executor::run(const std::string& run_id) {
    run_id_ = run_id;
    for (StepRun& step : steps_) store_.add_step(run_id_, step.plan->name, step.plan->kind, step.plan->hash);
    EventLoop::SignalId interrupt = loop_.on_signal(SIGINT, [this] { cancel(interrupts_++ > 0); });
    EventLoop::SignalId terminate = loop_.on_signal(SIGTERM, [this] { cancel(interrupts_++ > 0); });
    schedule();
    while (!all_final()) loop_.run_once();
    loop_.remove_signal(interrupt);
    loop_.remove_signal(terminate);

    int exit_code = 0;
    std::vector<StepSummary> rows;
    for (const StepRun& step : steps_) {
        if (step.state == StepState::Failed) exit_code = 2;
        if (step.state == StepState::Canceled && exit_code == 0) exit_code = 130;
        int64_t took = step.started_ms && step.finished_ms ? step.finished_ms - step.started_ms : 0;
        rows.push_back({step.plan->name, step.plan->kind, to_string(step.state), step.attempt + 1, took});
    }
    if (canceling_) exit_code = 130;
    store_.set_run_state(run_id_, exit_code == 0 ? RunState::Succeeded : exit_code == 130 ? RunState::Canceled
                                                                                        : RunState::Failed,
                         exit_code);
    for (const StepRun& step : steps_) {
        if (step.state == StepState::Failed) {
            reporter_.failure_report(step.plan->name, step.attempt + 1, step.last,
                                     (store_.run_folder(run_id_) / step.plan->name).string());
        }
    }
    reporter_.summary(run_id_, rows, exit_code, options_.store_hint);
    return exit_code;
}

Executor::StepRun* Executor::find(const std::string& name) {
    for (StepRun& step : steps_) {
        if (step.plan->name == name) return &step;
    }
    return nullptr;
}

bool Executor::all_final() const {
    for (const StepRun& step : steps_) {
        if (step.state == StepState::Pending || step.state == StepState::Running) return false;
    }
    return true;
}

bool Executor::can_start(const StepRun& step) const {
    if (step.state != StepState::Pending || !step.waiting_for.empty() || canceling_) return false;
    // A job larger than the machine still runs, alone, rather than never.
    return step.slots <= free_slots_ || active_ == 0;
}

void Executor::schedule() {
    for (StepRun& step : steps_) {
        if (step.state != StepState::Pending || !step.waiting_for.empty() || canceling_) continue;
        if (step.plan->kind != "job") {
            reporter_.note("step '" + step.plan->name + "' is a " + step.plan->kind +
                           " step, which this version runs only on Azure ML or not yet; skipped");
            finish_step(step, StepState::Skipped);
            continue;
        }
        step.slots = distribution_of(step.plan->spec).world_size();  // a slot per rank
        if (can_start(step)) start_step(step);
    }
}

bool Executor::prepare_workdir(StepRun& step, std::string* error) {
    fs::path folder = store_.run_folder(run_id_) / step.plan->name;
    fs::path work = folder / "work";
    fs::path source = options_.plan_folder / (step.plan->source.empty() ? "." : step.plan->source);
    if (!snapshot_source(source, work, store_.folder(), error)) return false;
    std::error_code ignored;
    fs::path outputs = store_.step_outputs(run_id_, step.plan->name);
    fs::path logs = folder / "logs";
    fs::create_directories(outputs, ignored);
    fs::create_directories(logs, ignored);
    fs::create_directories(folder / "metrics", ignored);
    // ./outputs and ./logs of the job are kept in the store, whatever the script does.
    fs::remove_all(work / "outputs", ignored);
    fs::remove_all(work / "logs", ignored);
    fs::create_directory_symlink(outputs, work / "outputs", ignored);
    fs::create_directory_symlink(logs, work / "logs", ignored);
    step.workdir = work.string();
    return true;
}

bool Executor::prepare_environment(const StepRun& step, std::string* error) {
    const std::string& id = step.plan->environment;
    if (interpreters_.count(id)) return true;
    auto fields = plan_.environments.find(id);
    if (fields == plan_.environments.end()) return true;
    auto hash = plan_.environment_hashes.find(id);
    std::string why;
    auto ready = runtime::prepare_environment(fields->second, hash != plan_.environment_hashes.end() ? hash->second : id,
                                              store_.folder() / "envs", &why);
    if (!ready) {
        *error = "environment '" + id.substr(id.find(':') + 1) + "': " + why;
        return false;
    }
    if (!ready->note.empty()) reporter_.note("environment '" + id.substr(id.find(':') + 1) + "': " + ready->note);
    interpreters_[id] = ready->python;
    return true;
}

void Executor::start_step(StepRun& step) {
    step.started_ms = now_ms();
    step.started_steady_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 EventLoop::Clock::now().time_since_epoch()).count();
    step.state = StepState::Running;
    free_slots_ -= step.slots;
    ++active_;
    // GPUs: as many as the job has ranks, disjoint from other running jobs'.
    Distribution shape = distribution_of(step.plan->spec);
    std::string compute_gpus = "\"all\"";
    auto compute = plan_.computes.find(step.plan->compute);
    if (compute != plan_.computes.end() && compute->second.contains("gpus")) compute_gpus = compute->second["gpus"].dump();
    std::vector<int> allowed = granted_gpus(options_.gpus, compute_gpus);
    for (int gpu : allowed) {
        if (static_cast<int>(step.gpus.size()) >= shape.processes_per_node) break;
        if (free_gpus_.erase(gpu)) step.gpus.push_back(gpu);
    }
    std::string error;
    if (!prepare_workdir(step, &error) || !prepare_environment(step, &error)) {
        reporter_.note("step '" + step.plan->name + "' cannot start: " + error);
        step.last.message = error;
        step.last.facts.reason = "setup";
        finish_step(step, StepState::Failed);
        return;
    }
    start_attempt(step);
}

void Executor::start_attempt(StepRun& step) {
    step.restart_timer = 0;
    if (canceling_) {
        finish_step(step, StepState::Canceled);
        return;
    }
    int port = free_port();
    auto attempt = store_.begin_attempt(run_id_, step.plan->name, port);
    step.attempt = attempt ? *attempt : step.attempt + 1;
    AttemptRequest request;
    request.step = step.plan;
    request.environment = plan_.environment_of(*step.plan);
    if (interpreters_.count(step.plan->environment)) request.environment["python"] = interpreters_[step.plan->environment];
    request.compute = plan_.compute_of(*step.plan);
    request.workdir = step.workdir;
    std::error_code ignored;
    request.plan_folder = fs::absolute(options_.plan_folder, ignored).lexically_normal().string();
    fs::path folder = store_.run_folder(run_id_) / step.plan->name;
    RetryPolicy policy = RetryPolicy::from_spec(step.plan->spec);
    request.context = {run_id_, step.plan->name, step.attempt, policy.max_restarts(), "127.0.0.1", port,
                       store_.step_outputs(run_id_, step.plan->name).string(),
                       store_.step_checkpoints(run_id_, step.plan->name).string(), (folder / "logs").string(),
                       (folder / "metrics").string(), step.gpus};
    for (const StepRun& other : steps_) {
        if (other.state != StepState::Succeeded) continue;
        fs::path other_folder = store_.run_folder(run_id_) / other.plan->name;
        request.results[other.plan->name] = {{"outputs", store_.step_outputs(run_id_, other.plan->name).string()},
                                             {"logs", (other_folder / "logs").string()}};
    }
    int processes = backend_.process_count(*step.plan);
    step.processes = processes;
    step.alive = 0;
    for (int rank = 0; rank < processes; ++rank) {
        request.rank_logs.push_back(store_.rank_log(run_id_, step.plan->name, step.attempt, rank).string());
    }
    reporter_.attempt_started(step.plan->name, step.attempt, processes, port);
    std::string name = step.plan->name;
    int number = step.attempt;
    AttemptCallbacks callbacks;
    callbacks.started = [this, name, number](const StartedProcess& process) {
        RankRecord record;
        record.run_id = run_id_;
        record.step = name;
        record.attempt = number;
        record.global_rank = process.rank;
        record.local_rank = process.local_rank;
        record.node_rank = process.node_rank;
        record.pid = process.pid;
        record.log_file = process.log_path;
        store_.add_rank(record);
        if (StepRun* step = find(name)) {
            ++step->alive;
            show(*step, "running");
        }
    };
    callbacks.exited = [this, name, number](int rank, int code, int signal) {
        store_.finish_rank(run_id_, name, number, rank, code, signal);
        if (StepRun* step = find(name); step && step->alive > 0) {
            --step->alive;
            show(*step, "running");
        }
    };
    callbacks.done = [this, name, number](const AttemptResult& result) {
        if (StepRun* step = find(name)) attempt_done(*step, number, result);
    };
    backend_.start(request, callbacks);
}

void Executor::show(const StepRun& step, const char* state) {
    StepView view;
    view.state = state;
    view.started_ms = step.started_steady_ms;
    view.ranks = step.processes;
    view.alive = step.alive;
    view.restarts = step.restarts_used;
    reporter_.step_view(step.plan->name, view);
}

std::string Executor::failure_json(const AttemptResult& result) const {
    json failure = {{"reason", result.facts.reason}, {"rank", result.root_rank}, {"message", result.message},
                    {"log", result.root_log}, {"tail", result.facts.log_lines}};
    if (result.facts.reason == "exit") failure["exit_code"] = result.facts.exit_code;
    if (result.facts.reason == "signal") failure["signal"] = result.facts.signal;
    return failure.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Executor::attempt_done(StepRun& step, int attempt, const AttemptResult& result) {
    step.last = result;
    if (result.succeeded) {
        store_.finish_attempt(run_id_, step.plan->name, attempt, AttemptState::Succeeded);
        finish_step(step, StepState::Succeeded);
        return;
    }
    bool canceled = canceling_ || result.facts.reason == "canceled";
    store_.finish_attempt(run_id_, step.plan->name, attempt, canceled ? AttemptState::Canceled : AttemptState::Failed,
                          failure_json(result));
    if (canceled) {
        finish_step(step, StepState::Canceled);
        return;
    }
    RetryDecision decision = RetryPolicy::from_spec(step.plan->spec).decide(result.facts, step.restarts_used);
    reporter_.attempt_failed(step.plan->name, attempt, result, decision.why, decision.delay_ms, decision.retry);
    if (!decision.retry) {
        finish_step(step, StepState::Failed);
        return;
    }
    ++step.restarts_used;
    show(step, "restarting");
    std::string name = step.plan->name;
    step.restart_timer = loop_.after(std::chrono::milliseconds(decision.delay_ms), [this, name] {
        if (StepRun* again = find(name)) start_attempt(*again);
    });
}

void Executor::finish_step(StepRun& step, StepState state) {
    bool was_running = step.state == StepState::Running;
    step.state = state;
    step.finished_ms = now_ms();
    show(step, to_string(state));
    store_.set_step_state(run_id_, step.plan->name, state);
    if (was_running) {
        free_slots_ += step.slots;
        --active_;
        for (int gpu : step.gpus) free_gpus_.insert(gpu);
        step.gpus.clear();
        reporter_.step_finished(step.plan->name, to_string(state), step.started_ms ? now_ms() - step.started_ms : 0);
    }
    if (state == StepState::Succeeded) {
        for (StepRun& other : steps_) other.waiting_for.erase(step.plan->name);
    } else {
        skip_dependents(step.plan->name);
    }
    schedule();
}

void Executor::skip_dependents(const std::string& failed) {
    for (StepRun& other : steps_) {
        if (other.state != StepState::Pending || !other.waiting_for.count(failed)) continue;
        other.state = canceling_ ? StepState::Canceled : StepState::Skipped;
        store_.set_step_state(run_id_, other.plan->name, other.state);
        skip_dependents(other.plan->name);
    }
}

void Executor::cancel(bool force) {
    if (!canceling_) reporter_.note("interrupted: stopping every rank (again to kill at once)");
    canceling_ = true;
    for (StepRun& step : steps_) {
        if (step.restart_timer) {
            loop_.cancel(step.restart_timer);
            step.restart_timer = 0;
            finish_step(step, StepState::Canceled);
        } else if (step.state == StepState::Pending) {
            step.state = StepState::Canceled;
            store_.set_step_state(run_id_, step.plan->name, StepState::Canceled);
        }
    }
    backend_.stop_all(force ? "killed" : "interrupted", force);
}

}  // namespace amlflow::runtime
