#include "runtime/azureml/azureml_backend.h"
#include "runtime/azureml/azureml_attempt.h"

#include <filesystem>

#include "runtime/azureml/code_asset.h"
#include "runtime/azureml/command_job.h"
#include "runtime/azureml/compute_setup.h"
#include "runtime/azureml/environment_asset.h"
#include "runtime/azureml/job_artifacts.h"
#include "runtime/azureml/job_inputs.h"
#include "runtime/azureml/job_watch.h"
#include "runtime/azureml/mlflow_metrics.h"
#include "runtime/azureml/sweep_job.h"
#include "runtime/azureml/sweep_watch.h"
#include "runtime/azureml/workspace_from_plan.h"
#include "runtime/core/root_cause.h"

namespace amlflow::runtime::azureml {
namespace fs = std::filesystem;
using nlohmann::json;

AzureMlBackend::AzureMlBackend(EventLoop& loop, AzureMlBackendOptions options, LineSink* sink)
    : loop_(loop), options_(std::move(options)), sink_(sink) {}

AzureMlBackend::~AzureMlBackend() {
    for (auto& [step, attempt] : running_) {
        if (attempt->watch) attempt->watch->stop();
        if (attempt->sweep) attempt->sweep->stop();
        if (attempt->metrics) attempt->metrics->stop();
        if (attempt->setup) attempt->setup->cancel();
        if (attempt->silence_timer) loop_.cancel(attempt->silence_timer);
    }
}

int AzureMlBackend::process_count(const StepPlan& step) const {
    if (step.kind == "sweep") return 0;  // its trials' processes are counted as they appear
    Distribution shape = distribution_of(step.spec);
    return shape.launched();
}

bool AzureMlBackend::running(const std::string& step) const { return running_.count(step) > 0; }

AzureMlBackend::Attempt* AzureMlBackend::find(const std::string& step) {
    auto found = running_.find(step);
    return found == running_.end() ? nullptr : found->second.get();
}

// The HTTP client, credential chain and endpoint, made at the first Azure ML attempt only.
bool AzureMlBackend::connect(std::string* error) {
    if (endpoint_) return true;
    auto endpoint = ArmEndpoint::from_environment(error);
    if (!endpoint) return false;
    http_ = std::make_unique<HttpClient>(loop_);
    client_ = std::make_unique<RetryingClient>(*http_);
    credential_ = std::make_unique<DefaultCredential>(*client_, CredentialOptions::from_process_environment());
    endpoint_ = std::make_unique<ArmEndpoint>(*endpoint);
    bool loopback = endpoint_->base().rfind("http://", 0) == 0;
    if (options_.log_interval.count() == 0) options_.log_interval = std::chrono::milliseconds(1000);
    if (options_.status_interval.count() == 0) {
        options_.status_interval = std::chrono::milliseconds(loopback ? 1000 : 10000);
    }
    return true;
}

void AzureMlBackend::say(const Attempt& attempt, const std::string& text) {
    if (!sink_) return;
    std::string prefix = sink_->prefix(attempt.request.step->name + " azureml", 0);
    sink_->line(prefix, Stream::err, text);
    sink_->flush();
}

void AzureMlBackend::fail_setup(const std::string& step, const std::string& message) {
    AttemptResult result;
    result.facts.reason = "setup";
    result.message = credential_ ? credential_->scrub(message) : message;
    loop_.after(std::chrono::milliseconds(0), [this, step, result] { finish(step, result); });
}

void AzureMlBackend::start(const AttemptRequest& request, AttemptCallbacks callbacks) {
    const std::string& step = request.step->name;
    auto attempt = std::make_unique<Attempt>();
    attempt->request = request;
    attempt->callbacks = std::move(callbacks);
    Attempt& raw = *attempt;
    running_[step] = std::move(attempt);
    std::string error;
    if (!connect(&error)) return fail_setup(step, error);
    auto ws = workspace_from_plan(options_.plan, request.compute, request.plan_folder, &error);
    if (!ws) return fail_setup(step, error);
    raw.workspace_key = ws->subscription + "/" + ws->resource_group + "/" + ws->name;
    raw.arm = std::make_unique<ArmClient>(*client_, *credential_, *endpoint_, *ws);
    raw.compute = compute_name(request.compute, request.step->compute);
    if (auto left = options_.reattach.find(step); left != options_.reattach.end()) {
        raw.reattach = left->second;  // once: a later attempt of the step is a new job
        options_.reattach.erase(left);
    }
    for (size_t rank = 0; rank < request.rank_logs.size(); ++rank) {
        LogRelayOptions relay;
        relay.label = step + (request.rank_logs.size() > 1 ? " " + std::to_string(rank) : "");
        relay.colour = static_cast<int>(rank);
        relay.path = request.rank_logs[rank];
        raw.relays.push_back(std::make_unique<LogRelay>(loop_, relay, sink_));
        if (!raw.relays.back()->open(&error)) return fail_setup(step, error);
    }
    open_workspace(raw);
}

// The workspace's location (for a new cluster) and run history's address (for logs).
void AzureMlBackend::open_workspace(Attempt& attempt) {
    if (workspaces_.count(attempt.workspace_key)) return attempt.reattach.empty() ? ready_compute(attempt) : reattach(attempt);
    std::string step = attempt.request.step->name;
    find_workspace_addresses(*attempt.arm, [this, step](std::optional<WorkspaceAddresses> found, std::string error) {
        Attempt* attempt = find(step);
        if (!attempt || attempt->stopping) return;
        if (!found) return fail_setup(step, error);
        workspaces_[attempt->workspace_key] = {found->location, found->history_base,
                                               mlflow_base(found->api_base, found->tracking_uri, attempt->arm->workspace())};
        if (!attempt->reattach.empty()) return reattach(*attempt);
        ready_compute(*attempt);
    });
}

void AzureMlBackend::ready_compute(Attempt& attempt) {
    std::string key = attempt.workspace_key + "/" + attempt.compute;
    if (computes_ready_.count(key)) return ready_assets(attempt);
    std::string step = attempt.request.step->name;
    Attempt* raw = &attempt;
    attempt.setup = std::make_shared<ComputeSetup>(*attempt.arm, attempt.compute, attempt.request.compute,
                                                   workspaces_[attempt.workspace_key].location,
                                                   [this, raw](const std::string& text) { say(*raw, text); });
    attempt.setup->start([this, step, key](bool ok, std::string error) {
        Attempt* attempt = find(step);
        if (!attempt || attempt->stopping) return;
        if (!ok) return fail_setup(step, error);
        computes_ready_.insert(key);
        ready_assets(*attempt);
    });
}

// The environment version and the code version, one after the other.
void AzureMlBackend::ready_assets(Attempt& attempt) {
    const AttemptRequest& request = attempt.request;
    std::string step = request.step->name, error;
    std::string env_name = request.step->environment.substr(request.step->environment.find(':') + 1);
    auto env = service_environment(request.environment, env_name, request.plan_folder, &error);
    if (!env) return fail_setup(step, error);
    attempt.ids.compute = attempt.arm->id("/computes/" + attempt.compute);
    ensure_environment(*attempt.arm, *env, [this, step](std::string id, std::string error) {
        Attempt* attempt = find(step);
        if (!attempt || attempt->stopping) return;
        if (id.empty()) return fail_setup(step, error);
        attempt->ids.environment = id;
        const AttemptRequest& request = attempt->request;
        CodeRequest code;
        code.folder = request.step->source.empty() ? fs::path(request.workdir)
                                                   : fs::path(request.plan_folder) / request.step->source;
        code.leave_out = options_.run_store_folder;
        code.upload_records = fs::path(options_.run_store_folder) / "azureml" / "uploads";
        code.blob_options = options_.blob;
        ensure_code(*attempt->arm, code, [this, step](CodeOutcome outcome) {
            Attempt* attempt = find(step);
            if (!attempt || attempt->stopping) return;
            if (outcome.id.empty()) return fail_setup(step, outcome.error);
            if (outcome.uploaded) {
                say(*attempt, "source uploaded: " + std::to_string(outcome.transfer.files_sent) + " files sent, " +
                                  std::to_string(outcome.transfer.files_skipped) + " already there");
            }
            attempt->ids.code = outcome.id;
            ready_inputs(*attempt);
        });
    });
}

// The job's inputs: amlflow's helper, local paths among its arguments, other steps' outputs.
void AzureMlBackend::ready_inputs(Attempt& attempt) {
    const AttemptRequest& request = attempt.request;
    std::string step = request.step->name, error;
    fs::path source = request.step->source.empty() ? fs::path(request.workdir)
                                                   : fs::path(request.plan_folder) / request.step->source;
    std::string helper = !request.context.python_lib.empty() ? request.context.python_lib : options_.python_lib;
    auto inputs = JobInputs::collect(request, source, completed_jobs_, helper, &error);
    if (!inputs) return fail_setup(step, error);
    attempt.inputs = std::make_shared<JobInputs>(std::move(*inputs));
    CodeRequest how;
    how.upload_records = fs::path(options_.run_store_folder) / "azureml" / "uploads";
    how.blob_options = options_.blob;
    fs::path files = fs::path(options_.run_store_folder) / "azureml" / "staged";
    upload_inputs(*attempt.arm, attempt.inputs, how, files, [this, step](std::string error) {
        Attempt* attempt = find(step);
        if (!attempt || attempt->stopping) return;
        if (!error.empty()) return fail_setup(step, error);
        submit(*attempt);
    });
}

void AzureMlBackend::submit(Attempt& attempt) {
    const AttemptRequest& request = attempt.request;
    std::string step = request.step->name, error;
    auto body = request.step->kind == "sweep" ? sweep_job_body(request, attempt.ids, &error, attempt.inputs.get())
                                              : command_job_body(request, attempt.ids, &error, attempt.inputs.get());
    if (!body) return fail_setup(step, error);
    attempt.job = job_name(request.context.run_id, step, request.context.attempt);
    attempt.arm->call("PUT", job_path(attempt.arm->workspace(), attempt.job), *body, [this, step](ArmAnswer answer) {
        Attempt* attempt = find(step);
        if (!attempt) return;
        if (!answer.ok()) return fail_setup(step, "cannot submit job '" + attempt->job + "': " + answer.error);
        attempt->submitted = true;
        attempt->studio = studio_link(answer.body);
        record(*attempt, "submitted");
        say(*attempt, "job '" + attempt->job + "' submitted" + (attempt->studio.empty() ? "" : ": " + attempt->studio));
        watch(*attempt);
        if (attempt->stopping) cancel_job(*attempt);
    });
}

// --resume of a detached run: the job its dead amlflow left is followed, not submitted again.
// One that ended badly (or that the service does not know) gives way to a new job.
void AzureMlBackend::reattach(Attempt& attempt) {
    std::string step = attempt.request.step->name;
    attempt.arm->call("GET", job_path(attempt.arm->workspace(), attempt.reattach), nullptr, [this, step](ArmAnswer answer) {
        Attempt* attempt = find(step);
        if (!attempt || attempt->stopping) return;
        std::string status = answer.ok() ? answer.body.value("properties", json::object()).value("status", "") : "";
        std::string job = attempt->reattach;
        attempt->reattach.clear();
        if (status.empty() || (terminal_status(status) && status != "Completed")) {
            say(*attempt, "job '" + job + "' " + (status.empty() ? "is not found (" + answer.error + ")" : "ended " + status) +
                              "; submitting a new job");
            return ready_compute(*attempt);
        }
        attempt->job = job;
        attempt->submitted = true;
        attempt->studio = studio_link(answer.body);
        say(*attempt, "reattached to job '" + job + "' (" + status + ")");
        record(*attempt, "submitted");
        watch(*attempt);
    });
}

void AzureMlBackend::record(const Attempt& attempt, const std::string& state) {
    if (!options_.job_recorded) return;
    const AttemptContext& c = attempt.request.context;
    RemoteJobEvent event{c.run_id, c.step, attempt.job, attempt.studio, c.attempt, state, {}};
    // At its end, how long the job spent in each state it walked (kept in remote-jobs.json).
    if (terminal_status(state)) event.states = state_seconds(attempt.states, EventLoop::Clock::now());
    options_.job_recorded(event);
}

void AzureMlBackend::watch(Attempt& attempt) {
    if (attempt.request.step->kind == "sweep") return watch_sweep(attempt);
    std::string step = attempt.request.step->name;
    JobWatchOptions watch;
    watch.job = attempt.job;
    watch.history_base = workspaces_[attempt.workspace_key].history_base;
    watch.log_interval = options_.log_interval;
    watch.status_interval = options_.status_interval;
    watch.reachability = outage_notes(attempt.job, [this, step](const std::string& text) { if (Attempt* a = find(step)) say(*a, text); });
    std::vector<LogRelay*> relays;
    for (auto& relay : attempt.relays) relays.push_back(relay.get());
    auto state = [this, step](const std::string& status) { state_seen(step, status); };
    MlflowMetricsOptions metrics;
    metrics.base = workspaces_[attempt.workspace_key].mlflow_base;
    metrics.run_id = attempt.job;
    const std::string& folder = attempt.request.context.metrics_folder;
    metrics.channel_file = folder.empty() ? "" : folder + "/rank-0.jsonl";
    metrics.interval = options_.log_interval;
    attempt.metrics = std::make_shared<MlflowMetrics>(*attempt.arm, metrics);
    // The metrics are read to their end before the executor hears that the job ended, but a
    // job canceled by a stop (Ctrl-C) ends at once, as its artifacts are not waited for.
    attempt.watch = std::make_shared<JobWatch>(*attempt.arm, watch, relays, state, [this, step](const JobEnd& end) {
        Attempt* attempt = find(step);
        if (!attempt) return;
        if (attempt->stopping && !attempt->hung) return job_ended(step, end);
        attempt->metrics->finish([this, step, end] { job_ended(step, end); });
    });
    attempt.watch->start();
    if (!folder.empty()) attempt.metrics->start();
}

// A new state of the job on the service: shown mapped to ours with how long the one before
// took (the board shows the step's latest line); the ranks counted started once it runs.
void AzureMlBackend::state_seen(const std::string& step, const std::string& status) {
    Attempt* attempt = find(step);
    if (!attempt) return;
    auto now = EventLoop::Clock::now();
    std::string took;
    if (!attempt->states.empty()) {
        const auto& [before, since] = attempt->states.back();
        took = ", " + before + " took " + span_text(now - since);
    }
    attempt->states.emplace_back(status, now);
    bool sweep = attempt->request.step->kind == "sweep";  // its trials are started by SweepWatch
    say(*attempt, (sweep ? "sweep job '" : "job '") + attempt->job + "' " + our_state(status) + " (" + status + took + ")");
    if (attempt->callbacks.place_states) attempt->callbacks.place_states(place_states(attempt->states));
    bool begun = status == "Running" || status == "Finalizing" || status == "Completed";
    if (sweep || !begun || attempt->ranks_started) return;
    attempt->ranks_started = true;
    attempt->running_since = now;
    long long hang = duration_ms(attempt->request.step->spec, "hang_timeout", 0);
    if (hang > 0) attempt->silence_timer = loop_.after(std::chrono::milliseconds(hang), [this, step] { check_silence(step); });
    if (!attempt->callbacks.started) return;
    Distribution shape = distribution_of(attempt->request.step->spec);
    int per_node = shape.launched_per_node();
    for (size_t rank = 0; rank < attempt->relays.size(); ++rank) {
        int r = static_cast<int>(rank);
        attempt->callbacks.started({r, r % per_node, r / per_node, 0, attempt->request.rank_logs[rank], ""});
    }
}

// `hang_timeout` on the service: a rank whose log has had nothing new for that long (since
// the job began running) is a hang, as a silent local rank is; the job is canceled and the
// attempt fails with reason "hang", so the restart policy decides as it does locally.
void AzureMlBackend::check_silence(const std::string& step) {
    Attempt* attempt = find(step);
    if (!attempt) return;
    attempt->silence_timer = 0;
    if (attempt->stopping || (attempt->watch && terminal_status(attempt->watch->status()))) return;
    auto hang = std::chrono::milliseconds(duration_ms(attempt->request.step->spec, "hang_timeout", 0));
    auto now = EventLoop::Clock::now();
    auto due = now + hang;
    for (size_t rank = 0; rank < attempt->relays.size(); ++rank) {
        // While the service cannot be reached, silence cannot be told: every rank counts as heard.
        auto last = attempt->watch->unreachable() ? now : attempt->relays[rank]->last_output().value_or(attempt->running_since);
        if (now - last < hang) {
            due = std::min(due, last + hang);
            continue;
        }
        std::string why = (attempt->relays.size() > 1 ? "rank " + std::to_string(rank) : std::string("the job")) +
                          " wrote no output for " + span_text(hang);
        say(*attempt, why + ": canceling job '" + attempt->job + "'");
        attempt->stopping = true;
        attempt->stop_why = why;
        attempt->hung = true;
        attempt->hung_rank = static_cast<int>(rank);
        return cancel_job(*attempt);
    }
    attempt->silence_timer = loop_.at(due, [this, step] { check_silence(step); });
}

// The failing rank (core/root_cause.h): the service does not say which rank failed first (its
// error names the lowest that exited non-zero), so the logs decide.
static int root_rank(const std::vector<std::unique_ptr<LogRelay>>& relays) {
    std::vector<int> ranks(relays.size());
    for (size_t rank = 0; rank < ranks.size(); ++rank) ranks[rank] = static_cast<int>(rank);
    int found = root_cause_rank(ranks, [&relays](int rank) { return relays[static_cast<size_t>(rank)]->tail(); });
    return found >= 0 || relays.empty() ? found : 0;
}

void AzureMlBackend::job_ended(const std::string& step, const JobEnd& end) {
    Attempt* attempt = find(step);
    if (!attempt) return;
    if (attempt->silence_timer) loop_.cancel(attempt->silence_timer);
    attempt->silence_timer = 0;
    for (auto& relay : attempt->relays) {
        relay->end(Stream::out);
        relay->finish();
    }
    if (!attempt->states.empty()) say(*attempt, "service states: " + state_durations(attempt->states, EventLoop::Clock::now()));
    bool completed = end.status == "Completed";
    if (attempt->ranks_started && attempt->callbacks.exited) {
        for (size_t rank = 0; rank < attempt->relays.size(); ++rank) {
            attempt->callbacks.exited(static_cast<int>(rank), completed ? 0 : 1, 0);
        }
    }
    record(*attempt, end.status);
    AttemptResult result;
    result.succeeded = completed;
    result.remote_job = attempt->job;
    bool canceled = !completed && end.status == "Canceled" && attempt->stopping;
    if (completed) completed_jobs_[step] = attempt->job;
    if (canceled && attempt->hung) {
        result.facts.reason = "hang";
        result.root_rank = attempt->hung_rank;
        result.facts.log_lines = attempt->relays[static_cast<size_t>(attempt->hung_rank)]->tail();
        result.root_log = attempt->request.rank_logs[static_cast<size_t>(attempt->hung_rank)];
        result.message = attempt->stop_why;
    } else if (!completed) {
        result.facts.reason = canceled ? "canceled" : end.status == "Canceled" ? "lost" : "exit";
        result.facts.exit_code = canceled ? -1 : 1;
        result.root_rank = canceled ? -1 : root_rank(attempt->relays);
        if (result.root_rank >= 0) {
            result.facts.log_lines = attempt->relays[static_cast<size_t>(result.root_rank)]->tail();
            result.root_log = attempt->request.rank_logs[static_cast<size_t>(result.root_rank)];
        }
        std::string ended = "job '" + attempt->job + "' ended " + end.status + (end.error.empty() ? "" : ": " + end.error);
        if (!canceled && attempt->relays.size() > 1 && result.root_rank >= 0) {
            TracebackSeen traceback = first_traceback(result.facts.log_lines);
            if (traceback.found && traceback.own) ended = rank_name(result.root_rank) + " raised the first error; " + ended;
        }
        result.message = canceled ? attempt->stop_why : ended;
    }
    attempt->result = result;
    // A canceled job's artifacts are not waited for: Ctrl-C ends at once.
    if (canceled && !attempt->hung) return finish(step, result);
    bring_back(step, completed);
}

// The job's ./outputs (completed only), ./logs and metrics, into the run store. Rank 0's
// channel file is not copied when MLflow already gave its records (watch): the helper sends
// rank 0's records to both, and each must be recorded once.
void AzureMlBackend::bring_back(const std::string& step, bool completed) {
    Attempt* attempt = find(step);
    const AttemptContext& context = attempt->request.context;
    ArtifactTargets to;
    if (completed) to.outputs = context.outputs;
    to.logs = context.logs;
    to.metrics = context.metrics_folder;
    if (attempt->metrics && attempt->metrics->wrote()) to.metrics_covered.insert("rank-0.jsonl");
    bring_outputs(step, attempt->job, to);
}

// A job's artifacts into `to` (bring_back; a sweep's best trial's outputs alone), then the
// attempt ends with its result: failed when wanted outputs could not come back.
void AzureMlBackend::bring_outputs(const std::string& step, const std::string& job, const ArtifactTargets& to) {
    Attempt* attempt = find(step);
    bool outputs = !to.outputs.empty(), logs = !to.logs.empty();
    bring_artifacts(*attempt->arm, options_.blob, job, to, [this, step, job, outputs, logs](ArtifactOutcome got) {
        Attempt* attempt = find(step);
        if (!attempt) return;
        AttemptResult result = *attempt->result;
        if (!got.error.empty() && outputs) {
            result.succeeded = false;
            result.facts.reason = "setup";
            result.message = "the outputs of job '" + job + "' could not come back: " + got.error;
        } else if (!got.error.empty()) {
            say(*attempt, "the logs of job '" + job + "' could not come back: " + got.error);
        } else {
            std::string brought = outputs ? "outputs: " + std::to_string(got.outputs) + " files brought back" : "";
            if (logs) brought += (outputs ? ", logs: " : "logs: ") + std::to_string(got.logs) + " files";
            say(*attempt, brought);
        }
        finish(step, result);
    });
}

void AzureMlBackend::cancel_job(Attempt& attempt) {
    if (attempt.cancel_sent) return;
    attempt.cancel_sent = true;
    say(attempt, "canceling job '" + attempt.job + "'");
    std::string step = attempt.request.step->name;
    attempt.arm->call("POST", job_cancel_path(attempt.arm->workspace(), attempt.job), json::object(),
                      [this, step](ArmAnswer answer) {
                          Attempt* attempt = find(step);
                          if (!attempt || answer.ok()) return;  // the watch sees Canceled come
                          say(*attempt, "cannot cancel job '" + attempt->job + "': " + answer.error);
                          say(*attempt, "job '" + attempt->job + "' may still run on the service; to cancel it: amlflow cancel " +
                                            attempt->request.context.run_id);
                          uncanceled_.push_back(attempt->job);
                          AttemptResult result;
                          result.facts.reason = "canceled";
                          result.message = attempt->stop_why;
                          finish(step, result);
                      },
                      kArmApiVersion, {}, true);
}

void AzureMlBackend::stop(const std::string& step, const std::string& why) {
    Attempt* attempt = find(step);
    if (!attempt || attempt->stopping) return;
    attempt->stopping = true;
    attempt->stop_why = why;
    if (attempt->submitted) return cancel_job(*attempt);
    if (!attempt->job.empty()) return;  // the PUT is on its way: cancel when it answers
    if (attempt->setup) attempt->setup->cancel();
    AttemptResult result;
    result.facts.reason = "canceled";
    result.message = why;
    loop_.after(std::chrono::milliseconds(0), [this, step, result] { finish(step, result); });
}

void AzureMlBackend::stop_all(const std::string& why, bool immediately) {
    (void)immediately;  // a job on the service is canceled either way; nothing here to kill
    cancel_calls(why);
    std::vector<std::string> steps;
    for (const auto& [step, attempt] : running_) steps.push_back(step);
    for (const std::string& step : steps) stop(step, why);
}

void AzureMlBackend::finish(const std::string& step, AttemptResult result) {
    auto found = running_.find(step);
    if (found == running_.end()) return;
    std::unique_ptr<Attempt> attempt = std::move(found->second);
    running_.erase(found);
    if (attempt->watch) attempt->watch->stop();
    if (attempt->sweep) attempt->sweep->stop();
    if (attempt->metrics) attempt->metrics->stop();
    if (attempt->setup) attempt->setup->cancel();
    if (attempt->silence_timer) loop_.cancel(attempt->silence_timer);
    if (credential_) result.message = credential_->scrub(result.message);
    // Requests of this attempt may still answer (a stop in the middle of a lookup): the
    // client they name stays, and their callbacks find no attempt.
    if (attempt->arm) retired_.push_back(std::move(attempt->arm));
    AttemptCallbacks callbacks = attempt->callbacks;
    finished_.push_back(std::move(attempt));
    loop_.after(std::chrono::milliseconds(0), [this] { finished_.clear(); });
    callbacks.done(result);
}

}  // namespace amlflow::runtime::azureml
