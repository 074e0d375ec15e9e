// The attempts of a job: its working directory and environment, starting each attempt
// over the backend, reading the metrics its ranks report, and deciding on its end.
#include <unistd.h>

#include "runtime/core/environment_check.h"
#include "runtime/core/error_file.h"
#include "runtime/exec/executor.h"
#include "runtime/core/free_port.h"
#include "runtime/core/snapshot.h"
#include "runtime/core/value_text.h"

namespace amlflow::runtime {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The environment's own `variables` as a rank gets them (those that cannot be resolved
// are left out here: starting the job names them).
std::map<std::string, std::string> environment_variables(const json& fields, const ArgumentContext& context) {
    std::map<std::string, std::string> variables;
    auto found = fields.find("variables");
    if (found == fields.end() || !found->is_object()) return variables;
    for (const auto& [key, value] : found->items()) {
        std::string ignored;
        if (auto text = argument_text(value, context, &ignored)) variables[key] = *text;
    }
    return variables;
}

}  // namespace

bool Executor::prepare_workdir(StepRun& step, std::string* error) {
    fs::path folder = store_.run_folder(run_id_) / step.plan->name;
    fs::path work = folder / "work";
    std::error_code ignored;
    if (step.action == "export") {
        // The exporter reads only the model it is given: no snapshot to take.
        fs::create_directories(work, ignored);
    } else {
        fs::path source = options_.plan_folder / (step.plan->source.empty() ? "." : step.plan->source);
        const json& link = step.plan->spec.value("$source", json());
        auto include = link.is_string() ? plan_.source_includes.find(link.get<std::string>()) : plan_.source_includes.end();
        auto snapshot = snapshot_source(source, work, store_.folder(), error,
                                        include != plan_.source_includes.end() ? include->second : std::vector<std::string>{});
        if (!snapshot) return false;
        // The plan's hash names the code as it was when the run was planned. Code edited
        // since (before this step started, or before --resume) must not be recorded
        // under that hash, or a later run would reuse a result of other code.
        auto found = link.is_string() ? plan_.source_hashes.find(link.get<std::string>()) : plan_.source_hashes.end();
        std::string planned = found != plan_.source_hashes.end() ? found->second : "";
        if (!planned.empty() && planned != snapshot->hash) {
            if (options_.resume) {
                *error = "its source folder '" + source.string() + "' changed since the run started; start a new run";
                return false;
            }
            reporter_.note("step '" + step.plan->name + "': its source folder changed since the run was planned; " +
                           "its result will not be cached");
            step.cache_key.clear();
        }
    }
    fs::path outputs = store_.step_outputs(run_id_, step.plan->name);
    fs::path logs = folder / "logs";
    fs::create_directories(outputs, ignored);
    fs::create_directories(logs, ignored);
    // ./outputs and ./logs of the job are kept in the store, whatever the script does.
    fs::remove_all(work / "outputs", ignored);
    fs::remove_all(work / "logs", ignored);
    fs::create_directory_symlink(outputs, work / "outputs", ignored);
    fs::create_directory_symlink(logs, work / "logs", ignored);
    step.workdir = work.string();
    return true;
}

// Verified once, not per job: a check that found the requirements installed leaves a
// stamp in the run store, and a later run that finds everything the stamp rests on
// unchanged (stat only, environment_stamp.h) skips starting the interpreter.
// --recheck-env asks it again.
bool Executor::prepare_environment(const std::string& id, std::string* error) {
    if (interpreters_.count(id)) return true;
    auto fields = plan_.environments.find(id);
    if (fields == plan_.environments.end()) return true;
    std::string name = id.substr(id.find(':') + 1);
    std::error_code ignored;
    ArgumentContext context{results_, fs::absolute(options_.plan_folder, ignored).lexically_normal().string()};
    auto variables = startup_variables(environment_variables(fields->second, context));
    EnvironmentStamp question = environment_question(fields->second, variables);
    if (!options_.recheck_environments && question.requirements_json != "[]") {
        auto known = store_.find_environment_stamp(question);
        if (known && stamp_holds(*known)) {
            interpreters_[id] = known->ready_python;
            return true;
        }
    }
    auto hash = plan_.environment_hashes.find(id);
    std::string why;
    auto ready = runtime::prepare_environment(fields->second, variables,
                                              hash != plan_.environment_hashes.end() ? hash->second : id,
                                              store_.folder() / "envs", &why);
    if (!ready) {
        *error = "environment '" + name + "': " + why;
        return false;
    }
    if (!ready->note.empty()) reporter_.note("environment '" + name + "': " + ready->note);
    if (ready->stamp && !store_.put_environment_stamp(*ready->stamp)) {
        reporter_.note("environment '" + name + "' will be checked again next time: " + store_.last_error());
    }
    interpreters_[id] = ready->python;
    return true;
}

std::string Executor::interpreter_of(const std::string& id) const {
    auto prepared = interpreters_.find(id);
    if (prepared != interpreters_.end()) return prepared->second;
    auto fields = plan_.environments.find(id);
    if (fields != plan_.environments.end() && fields->second.contains("python") && fields->second["python"].is_string()) {
        return fields->second["python"].get<std::string>();
    }
    return "python3";
}

void Executor::start_step(StepRun& step) {
    step.started_ms = wall_ms();
    step.started_steady_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 EventLoop::Clock::now().time_since_epoch()).count();
    step.state = StepState::Running;
    free_slots_ -= step.slots;
    ++active_;
    if (!step.parent.empty()) ++sweeps_[step.parent].running;
    // GPUs: as many as the job has ranks, disjoint from other running jobs'.
    Distribution shape = distribution_of(step.plan->spec);
    std::string compute_gpus = "\"all\"";
    auto compute = plan_.computes.find(step.plan->compute);
    if (compute != plan_.computes.end() && compute->second.contains("gpus")) compute_gpus = compute->second["gpus"].dump();
    std::vector<int> allowed = off_machine(step) ? std::vector<int>{} : granted_gpus(options_.gpus, compute_gpus);
    if (on_hosts(step)) {
        step.hosts = host_slots_.take(step.plan->compute, plan_.compute_of(*step.plan), shape.nodes, shape.processes_per_node);
    }
    // On this machine the job's `nodes` are blocks of ranks side by side: each gets its own
    // processes_per_node GPUs (rank_env gives each node its slice).
    for (int gpu : allowed) {
        if (static_cast<int>(step.gpus.size()) >= shape.world_size()) break;
        if (free_gpus_.erase(gpu)) step.gpus.push_back(gpu);
    }
    std::string error;
    // On hosts the interpreter is the hosts' own: their backend checks it on each of them.
    if (!prepare_workdir(step, &error) || (!off_machine(step) && !prepare_environment(step.plan->environment, &error))) {
        fail_step(step, "cannot start: " + error);
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
    step.place_states.clear();
    AttemptRequest request;
    request.step = step.plan;
    request.environment = plan_.environment_of(*step.plan);
    if (interpreters_.count(step.plan->environment)) request.environment["python"] = interpreters_[step.plan->environment];
    request.compute = plan_.compute_of(*step.plan);
    // On hosts, the attempt runs on the hosts the job holds (sweep trials side by side).
    if (on_hosts(step)) {
        request.compute = HostSlots::placed(request.compute, step.hosts, distribution_of(step.plan->spec).processes_per_node);
    }
    request.workdir = step.workdir;
    std::error_code ignored;
    request.plan_folder = fs::absolute(options_.plan_folder, ignored).lexically_normal().string();
    fs::path folder = store_.run_folder(run_id_) / step.plan->name;
    fs::path metrics = folder / "metrics" / ("attempt-" + std::to_string(shown_attempt(step.attempt)));
    fs::create_directories(metrics, ignored);
    RetryPolicy policy = RetryPolicy::from_spec(step.plan->spec);
    request.context = {run_id_, step.plan->name, step.attempt, policy.max_restarts(), "127.0.0.1", port,
                       store_.step_outputs(run_id_, step.plan->name).string(),
                       store_.step_checkpoints(run_id_, step.plan->name).string(), (folder / "logs").string(),
                       metrics.string(), options_.gpus.devices(step.gpus), options_.python_lib,
                       store_.attempt_logs(run_id_, step.plan->name, step.attempt).string()};
    request.results = results_;
    step.metrics = std::make_shared<MetricsReader>(run_id_, step.plan->name, step.attempt, metrics);
    if (!metrics_timer_) {
        metrics_timer_ = loop_.after(std::chrono::milliseconds(options_.metrics_interval_ms), [this] { read_all_metrics(); });
    }
    int processes = backend_.process_count(*step.plan);
    step.processes = processes;
    step.alive = 0;
    for (int rank = 0; rank < processes; ++rank) {
        request.rank_logs.push_back(store_.rank_log(run_id_, step.plan->name, step.attempt, rank).string());
    }
    step.clean_exits = 0;
    // An attempt after others but before any restart of this interpreter: a --resume.
    bool resumed = step.attempt > 0 && step.restarts_used == 0;
    AttemptCallbacks callbacks = attempt_callbacks(step.plan->name, step.attempt);
    // A place that checks first (hosts) has started the attempt once its check passed.
    auto say_started = [this, name = step.plan->name, number = step.attempt, processes, port, resumed] {
        reporter_.attempt_started(name, number, processes, port, resumed);
    };
    if (backend_.checks_first(*step.plan)) callbacks.checked = say_started;
    else say_started();
    backend_.start(request, std::move(callbacks));
    // The ranks are starting, the loop has time: the store's one-time sync of the WAL's
    // folder happens now rather than in the commit that ends the step.
    store_.sync_ahead();
}

// What the backend reports of one attempt, recorded and passed on to the step.
AttemptCallbacks Executor::attempt_callbacks(const std::string& name, int number) {
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
        record.host = process.host;
        store_.add_rank(record);
        if (StepRun* step = find(name)) {
            ++step->alive;
            show(*step, "running");
        }
    };
    callbacks.port_moved = [this, name, number](int port) {
        if (!store_.set_attempt_port(run_id_, name, number, port)) reporter_.note(store_.last_error());
        reporter_.note("step '" + name + "': MASTER_PORT is " + std::to_string(port) +
                       " (the one chosen here is taken on the host where the ranks meet)");
    };
    callbacks.exited = [this, name, number](int rank, int code, int signal) {
        store_.finish_rank(run_id_, name, number, rank, code, signal);
        StepRun* step = find(name);
        if (step && step->attempt == number && code == 0 && signal == 0) ++step->clean_exits;
        if (step && step->alive > 0) {
            --step->alive;
            show(*step, "running");
        }
    };
    callbacks.place_states = [this, name, number](const std::vector<PlaceState>& states) {
        StepRun* step = find(name);
        if (!step || step->attempt != number) return;
        step->place_states = states;
        show(*step, "running");
    };
    callbacks.done = [this, name, number](const AttemptResult& result) {
        if (StepRun* step = find(name)) attempt_done(*step, number, result);
    };
    return callbacks;
}

void Executor::read_metrics(StepRun& step, bool final) {
    if (!step.metrics) return;
    MetricsBatch batch = step.metrics->read(final);
    if (!batch.metrics.empty() && !store_.add_metrics(batch.metrics)) reporter_.note(store_.last_error());
    for (const auto& [rank, params] : batch.params) {
        if (!store_.add_params(run_id_, step.plan->name, step.attempt, rank, params)) reporter_.note(store_.last_error());
    }
    if (!step.parent.empty()) {
        SweepRun& sweep = sweeps_[step.parent];
        bool grew = false;
        for (const MetricRecord& metric : batch.metrics) {
            if (metric.rank != 0 || metric.name != sweep.objective.metric) continue;
            sweep.series[step.plan->name].emplace_back(metric.step_index, metric.value);
            grew = true;
        }
        if (grew && !final) check_early_stop(step.parent);
    }
    if (final) step.metrics.reset();
}

// A timer while any step runs: live metrics for early stopping (and whoever reads the
// store meanwhile); the files are read once more when each attempt ends.
void Executor::read_all_metrics() {
    metrics_timer_ = 0;
    bool any = false;
    for (size_t i = 0; i < steps_.size(); ++i) {
        if (steps_[i].metrics && steps_[i].state == StepState::Running) {
            read_metrics(steps_[i], false);
            any = true;
        }
    }
    if (any && !metrics_timer_) {
        metrics_timer_ = loop_.after(std::chrono::milliseconds(options_.metrics_interval_ms), [this] { read_all_metrics(); });
    }
}

std::string Executor::failure_json(const AttemptResult& result) const {
    json failure = {{"reason", result.facts.reason}, {"rank", result.root_rank}, {"message", result.message},
                    {"log", result.root_log}, {"tail", result.facts.log_lines}};
    if (result.facts.reason == "exit") failure["exit_code"] = result.facts.exit_code;
    if (result.facts.reason == "signal") failure["signal"] = result.facts.signal;
    if (auto error = parse_error_file(result.error_file)) failure["error"] = *error;
    return failure.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Every rank of the attempt exited 0 by itself: the attempt did its work, even when a
// stop (a sweep's early stop) was sent meanwhile and reached only what the ranks left
// behind, or nothing.
bool Executor::ran_to_the_end(const StepRun& step) const {
    return step.processes > 0 && step.clean_exits >= step.processes;
}

void Executor::attempt_done(StepRun& step, int attempt, const AttemptResult& result) {
    step.last = result;
    step.remote_job = result.remote_job;
    read_metrics(step, true);
    if (result.succeeded || (step.stopped_early && !canceling_ && ran_to_the_end(step))) {
        step.stopped_early = false;  // it finished before the stop reached it
        store_.finish_attempt(run_id_, step.plan->name, attempt, AttemptState::Succeeded);
        if (step.action == "export") return export_done(step);
        fs::path folder = store_.run_folder(run_id_) / step.plan->name;
        succeed(step, {{"outputs", store_.step_outputs(run_id_, step.plan->name).string()},
                       {"logs", (folder / "logs").string()},
                       {"run", run_id_},
                       {"step", step.plan->name},
                       {"attempt", std::to_string(attempt)}});
        return;
    }
    bool early = step.stopped_early && !canceling_;
    bool canceled = canceling_ || step.stopped_early || result.facts.reason == "canceled";
    store_.finish_attempt(run_id_, step.plan->name, attempt,
                          early ? AttemptState::StoppedEarly : canceled ? AttemptState::Canceled : AttemptState::Failed,
                          failure_json(result));
    if (canceled) {
        finish_step(step, early ? StepState::StoppedEarly : StepState::Canceled);
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

}  // namespace amlflow::runtime
