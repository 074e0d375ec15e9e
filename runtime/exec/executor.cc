#include "runtime/exec/executor.h"

namespace amlflow::runtime {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool is_done(StepState state) { return state == StepState::Succeeded || state == StepState::Cached; }

RunState run_state_of(int exit_code) {
    return exit_code == 0 ? RunState::Succeeded : exit_code == 130 ? RunState::Canceled : RunState::Failed;
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
    if (options_.resume) {
        if (auto records = store_.steps_of(run_id_)) {
            for (StepRecord& record : *records) previous_[record.name] = std::move(record);
        }
    }
    for (StepRun& step : steps_) {
        if (!previous_.count(step.plan->name)) store_.add_step(run_id_, step.plan->name, step.plan->kind, step.plan->hash);
    }
    EventLoop::SignalId interrupt = loop_.on_signal(SIGINT, [this] { cancel(interrupts_++ > 0); });
    EventLoop::SignalId terminate = loop_.on_signal(SIGTERM, [this] { cancel(interrupts_++ > 0); });
    schedule();
    while (!all_final()) loop_.run_once();
    loop_.remove_signal(interrupt);
    loop_.remove_signal(terminate);
    if (metrics_timer_) loop_.cancel(metrics_timer_);
    return summarize();
}

// The table printed at the end. Attempts are the step's attempts as the store counts them
// (a resumed step's interrupted attempt too, as `runs show` says); a step kept from before
// a --resume shows the time it took then, not the time since.
std::vector<StepSummary> Executor::summary_rows() {
    std::map<std::string, int> attempts;
    if (auto records = store_.steps_of(run_id_)) {
        for (const StepRecord& record : *records) attempts[record.name] = record.attempts;
    }
    std::vector<StepSummary> rows;
    for (const StepRun& step : steps_) {
        int64_t took = step.started_ms && step.finished_ms >= step.started_ms ? step.finished_ms - step.started_ms : 0;
        auto counted = attempts.find(step.plan->name);
        rows.push_back({step.plan->name, step.parent.empty() ? step.plan->kind : "trial", to_string(step.state),
                        counted != attempts.end() ? counted->second : step.attempt + 1, took});
    }
    return rows;
}

int Executor::exit_code() const {
    int code = 0;
    for (const StepRun& step : steps_) {
        if (step.state == StepState::Failed && step.parent.empty()) code = 2;
        if (step.state == StepState::Canceled && code == 0) code = 130;
    }
    return canceling_ ? 130 : code;
}

int Executor::summarize() {
    int exit_code = this->exit_code();
    std::vector<StepSummary> rows = summary_rows();
    if (!run_recorded_) store_.set_run_state(run_id_, run_state_of(exit_code), exit_code);
    for (size_t i = 0; i < steps_.size(); ++i) {
        const StepRun& step = steps_[i];
        if (step.state == StepState::Failed) {
            reporter_.failure_report(step.plan->name, rows[i].attempts, step.last,
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

std::string Executor::compute_kind(const StepRun& step) const {
    auto compute = plan_.computes.find(step.plan->compute);
    return compute == plan_.computes.end() ? "" : compute->second.value("$kind", "");
}

bool Executor::on_hosts(const StepRun& step) const { return compute_kind(step) == "hosts"; }

bool Executor::off_machine(const StepRun& step) const {
    std::string kind = compute_kind(step);
    return kind == "hosts" || kind == "amlcompute";
}

bool Executor::can_start(const StepRun& step) const {
    if (step.state != StepState::Pending || !step.waiting_for.empty() || canceling_) return false;
    if (!step.parent.empty()) {
        const SweepRun& sweep = sweeps_.at(step.parent);
        if (sweep.running >= sweep.parallel) return false;
    }
    // A job on hosts needs processes_per_node free slots on each of `nodes` hosts there.
    if (on_hosts(step)) {
        Distribution shape = distribution_of(step.plan->spec);
        return host_slots_.available(step.plan->compute, plan_.compute_of(*step.plan), shape.nodes, shape.processes_per_node);
    }
    // A job larger than the machine still runs, alone, rather than never.
    return step.slots <= free_slots_ || active_ == 0;
}

void Executor::schedule() {
    // Steps finishing at once (cached, actions) schedule again from inside; the outer
    // call's loop sees their effects, so only it walks the steps.
    if (scheduling_++ > 0) return;
    for (bool again = true; again;) {
        again = false;
        for (size_t i = 0; i < steps_.size(); ++i) {
            StepRun& step = steps_[i];
            if (step.state != StepState::Pending || !step.waiting_for.empty() || canceling_) continue;
            StepState before = step.state;
            size_t count = steps_.size();
            dispatch(step);
            if (step.state != before || steps_.size() != count) again = true;
        }
        if (scheduling_ > 1) again = true;
        scheduling_ = 1;
    }
    scheduling_ = 0;
}

void Executor::dispatch(StepRun& step) {
    if (!step.looked_up) {
        if (fetch_missing_inputs(step)) return;  // dispatched again once the files are here
        step.looked_up = true;
        if (reuse(step)) return;
    }
    const std::string& kind = step.plan->kind;
    if (kind == "register") return run_register(step);
    if (kind == "download") return run_download(step);
    if (kind == "sweep") return start_sweep(step);
    if (kind == "export" && step.action.empty()) return start_export(step);
    // A slot per rank, on this machine; a job on hosts or Azure ML takes none of this machine's.
    step.slots = off_machine(step) ? 0 : distribution_of(step.plan->spec).world_size();
    if (can_start(step)) start_step(step);
}

void Executor::show(const StepRun& step, const char* state) {
    StepView view;
    view.state = state;
    view.started_ms = step.started_steady_ms;
    view.ranks = step.processes;
    view.alive = step.alive;
    view.restarts = step.restarts_used;
    view.place_states = step.place_states;
    reporter_.step_view(step.plan->name, view);
}

void Executor::fail_step(StepRun& step, const std::string& message) {
    reporter_.note("step '" + step.plan->name + "' failed: " + message);
    // Kept with the step: a step that failed before any process started has no attempt
    // to hold its reason.
    store_.set_step_result(run_id_, step.plan->name,
                           nlohmann::json({{"error", message}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    step.last = AttemptResult{};
    step.last.message = message;
    step.last.facts.reason = "setup";
    finish_step(step, StepState::Failed);
}

void Executor::finish_step(StepRun& step, StepState state, bool record) {
    bool was_running = step.state == StepState::Running && step.processes > 0;
    bool held_slots = step.state == StepState::Running && step.started_steady_ms > 0 && step.plan->kind != "sweep";
    step.state = state;
    step.finished_ms = wall_ms();
    show(step, to_string(state));
    if (record) record_step_end(step, state);
    if (held_slots) {
        free_slots_ += step.slots;
        --active_;
        for (int gpu : step.gpus) free_gpus_.insert(gpu);
        step.gpus.clear();
        if (on_hosts(step)) {
            host_slots_.release(step.plan->compute, step.hosts);
            step.hosts.clear();
        }
    }
    if (was_running || held_slots) {
        reporter_.step_finished(step.plan->name, to_string(state), step.started_ms ? wall_ms() - step.started_ms : 0);
    }
    if (is_done(state)) {
        for (StepRun& other : steps_) other.waiting_for.erase(step.plan->name);
    } else {
        skip_dependents(step.plan->name);
    }
    if (!step.parent.empty()) trial_finished(step);
    schedule();
}

// A succeeded step that leaves nothing to run (step.state is set already) ends the run:
// its record and the run's end share one durable commit, so the end of a run costs one
// fsync, not two (it is what stands between the last rank's exit and amlflow's). Nothing
// is reported in between, and summarize() does not record the run's end again.
void Executor::record_step_end(const StepRun& step, StepState state) {
    if (state == StepState::Succeeded && step.parent.empty() && all_final()) {
        int code = exit_code();
        run_recorded_ = store_.finish_run_with_step(run_id_, step.plan->name, state, run_state_of(code), code);
        if (run_recorded_) return;
    }
    store_.set_step_state(run_id_, step.plan->name, state);
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
        } else if (step.state == StepState::Running && step.plan->kind == "sweep" && !sweeps_[step.plan->name].remote) {
            sweeps_[step.plan->name].pending = 0;
        }
    }
    backend_.stop_all(force ? "killed" : "interrupted", force);
    // A sweep whose trials all ended already has nothing left to report its end.
    for (StepRun& step : steps_) {
        if (step.state == StepState::Running && step.plan->kind == "sweep" && sweeps_[step.plan->name].running == 0 &&
            !sweeps_[step.plan->name].remote) {
            finish_step(step, StepState::Canceled);
        }
    }
}

}  // namespace amlflow::runtime
