#include "runtime/azureml/azureml_backend.h"

#include <filesystem>

#include "runtime/azureml/code_asset.h"
#include "runtime/azureml/command_job.h"
#include "runtime/azureml/compute_setup.h"
#include "runtime/azureml/environment_asset.h"
#include "runtime/azureml/job_watch.h"
#include "runtime/azureml/mlflow_metrics.h"
#include "runtime/azureml/sweep_job.h"
#include "runtime/azureml/sweep_watch.h"
#include "runtime/azureml/workspace_from_plan.h"

namespace amlflow::runtime::azureml {
namespace fs = std::filesystem;
using nlohmann::json;

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
};

AzureMlBackend::AzureMlBackend(EventLoop& loop, AzureMlBackendOptions options, LineSink* sink)
    : loop_(loop), options_(std::move(options)), sink_(sink) {}

AzureMlBackend::~AzureMlBackend() {
    for (auto& [step, attempt] : running_) {
        if (attempt->watch) attempt->watch->stop();
        if (attempt->sweep) attempt->sweep->stop();
        if (attempt->metrics) attempt->metrics->stop();
        if (attempt->setup) attempt->setup->cancel();
    }
}

int AzureMlBackend::process_count(const StepPlan& step) const {
    if (step.kind == "sweep") return 0;  // its trials' processes are counted as they appear
    Distribution shape = distribution_of(step.spec);
    return shape.kind == "per_node" ? shape.nodes : shape.world_size();
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
    if (workspaces_.count(attempt.workspace_key)) return ready_compute(attempt);
    std::string step = attempt.request.step->name;
    ArmClient& arm = *attempt.arm;
    arm.call("GET", workspace_path(arm.workspace()), nullptr, [this, step](ArmAnswer answer) {
        Attempt* attempt = find(step);
        if (!attempt || attempt->stopping) return;
        if (!answer.ok()) return fail_setup(step, "cannot reach the workspace: " + answer.error);
        std::string location = answer.body.value("location", "");
        std::string discovery = answer.body.value("properties", json::object()).value("discoveryUrl", "");
        std::string tracking = answer.body.value("properties", json::object()).value("mlFlowTrackingUri", "");
        if (discovery.empty()) return fail_setup(step, "the workspace names no discovery url");
        attempt->arm->get_url(discovery, false, [this, step, location, tracking](ArmAnswer found) {
            Attempt* attempt = find(step);
            if (!attempt || attempt->stopping) return;
            std::string history = found.ok() ? found.body.value("history", found.body.value("api", "")) : "";
            if (history.empty()) return fail_setup(step, "cannot find run history: " + found.error);
            while (!history.empty() && history.back() == '/') history.pop_back();
            std::string api = found.body.value("api", history);
            workspaces_[attempt->workspace_key] = {location, history, mlflow_base(api, tracking, attempt->arm->workspace())};
            ready_compute(*attempt);
        });
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
            submit(*attempt);
        });
    });
}

void AzureMlBackend::submit(Attempt& attempt) {
    const AttemptRequest& request = attempt.request;
    std::string step = request.step->name, error;
    auto body = request.step->kind == "sweep" ? sweep_job_body(request, attempt.ids, &error)
                                              : command_job_body(request, attempt.ids, &error);
    if (!body) return fail_setup(step, error);
    attempt.job = job_name(request.context.run_id, step, request.context.attempt);
    attempt.arm->call("PUT", job_path(attempt.arm->workspace(), attempt.job), *body, [this, step](ArmAnswer answer) {
        Attempt* attempt = find(step);
        if (!attempt) return;
        if (!answer.ok()) return fail_setup(step, "cannot submit job '" + attempt->job + "': " + answer.error);
        attempt->submitted = true;
        if (options_.job_submitted) options_.job_submitted(attempt->request.context.run_id, attempt->job);
        say(*attempt, "job '" + attempt->job + "' submitted");
        watch(*attempt);
        if (attempt->stopping) cancel_job(*attempt);
    });
}

void AzureMlBackend::watch(Attempt& attempt) {
    if (attempt.request.step->kind == "sweep") return watch_sweep(attempt);
    std::string step = attempt.request.step->name;
    JobWatchOptions watch;
    watch.job = attempt.job;
    watch.history_base = workspaces_[attempt.workspace_key].history_base;
    watch.log_interval = options_.log_interval;
    watch.status_interval = options_.status_interval;
    std::vector<LogRelay*> relays;
    for (auto& relay : attempt.relays) relays.push_back(relay.get());
    auto state = [this, step](const std::string& status) {
        Attempt* attempt = find(step);
        if (!attempt) return;
        say(*attempt, "job '" + attempt->job + "' is " + status);
        bool begun = status == "Running" || status == "Finalizing" || status == "Completed";
        if (begun && !attempt->ranks_started && attempt->callbacks.started) {
            attempt->ranks_started = true;
            Distribution shape = distribution_of(attempt->request.step->spec);
            int per_node = shape.kind == "per_node" ? 1 : shape.processes_per_node;
            for (size_t rank = 0; rank < attempt->relays.size(); ++rank) {
                int r = static_cast<int>(rank);
                attempt->callbacks.started({r, r % per_node, r / per_node, 0, attempt->request.rank_logs[rank]});
            }
        }
    };
    MlflowMetricsOptions metrics;
    metrics.base = workspaces_[attempt.workspace_key].mlflow_base;
    metrics.run_id = attempt.job;
    const std::string& folder = attempt.request.context.metrics_folder;
    metrics.channel_file = folder.empty() ? "" : folder + "/rank-0.jsonl";
    metrics.interval = options_.log_interval;
    attempt.metrics = std::make_shared<MlflowMetrics>(*attempt.arm, metrics);
    // The metrics are read to their end before the executor hears that the job ended.
    attempt.watch = std::make_shared<JobWatch>(*attempt.arm, watch, relays, state, [this, step](const JobEnd& end) {
        Attempt* attempt = find(step);
        if (!attempt) return;
        attempt->metrics->finish([this, step, end] { job_ended(step, end); });
    });
    attempt.watch->start();
    if (!folder.empty()) attempt.metrics->start();
}

namespace {

// The failing rank: the first whose log holds a Python traceback, else the first with any
// line (a rank that only says a peer went away is not the cause).
int root_rank(const std::vector<std::unique_ptr<LogRelay>>& relays) {
    for (size_t rank = 0; rank < relays.size(); ++rank) {
        for (const std::string& line : relays[rank]->tail()) {
            if (line.find("Traceback (most recent call last)") != std::string::npos) return static_cast<int>(rank);
        }
    }
    for (size_t rank = 0; rank < relays.size(); ++rank) {
        if (!relays[rank]->tail().empty()) return static_cast<int>(rank);
    }
    return relays.empty() ? -1 : 0;
}

}  // namespace

void AzureMlBackend::job_ended(const std::string& step, const JobEnd& end) {
    Attempt* attempt = find(step);
    if (!attempt) return;
    for (auto& relay : attempt->relays) {
        relay->end(Stream::out);
        relay->finish();
    }
    bool completed = end.status == "Completed";
    if (attempt->ranks_started && attempt->callbacks.exited) {
        for (size_t rank = 0; rank < attempt->relays.size(); ++rank) {
            attempt->callbacks.exited(static_cast<int>(rank), completed ? 0 : 1, 0);
        }
    }
    AttemptResult result;
    result.succeeded = completed;
    result.remote_job = attempt->job;
    if (!completed) {
        bool canceled = end.status == "Canceled" && attempt->stopping;
        result.facts.reason = canceled ? "canceled" : end.status == "Canceled" ? "lost" : "exit";
        result.facts.exit_code = canceled ? -1 : 1;
        result.root_rank = canceled ? -1 : root_rank(attempt->relays);
        if (result.root_rank >= 0) {
            result.facts.log_lines = attempt->relays[static_cast<size_t>(result.root_rank)]->tail();
            result.root_log = attempt->request.rank_logs[static_cast<size_t>(result.root_rank)];
        }
        result.message = canceled ? attempt->stop_why
                                  : "job '" + attempt->job + "' ended " + end.status + (end.error.empty() ? "" : ": " + end.error);
        return finish(step, result);
    }
    attempt->result = result;
    bring_outputs(step, attempt->job, attempt->request.context.outputs);
}

// The job's ./outputs, from the workspace's artifact store into the step's outputs folder.
void AzureMlBackend::bring_outputs(const std::string& step, const std::string& job, const std::string& folder) {
    Attempt* attempt = find(step);
    ArmClient& arm = *attempt->arm;
    std::string store = "workspaceartifactstore";
    std::string path = datastores_path(arm.workspace()) + "/" + store;
    auto failed = [this, step](const std::string& error) {
        Attempt* attempt = find(step);
        if (!attempt) return;
        AttemptResult result = *attempt->result;
        result.succeeded = false;
        result.facts.reason = "setup";
        result.message = "the outputs of job '" + attempt->job + "' could not come back: " + error;
        finish(step, result);
    };
    arm.call("GET", path, nullptr, [this, step, path, failed, job, folder](ArmAnswer answer) {
        Attempt* attempt = find(step);
        if (!attempt) return;
        if (!answer.ok()) return failed(answer.error);
        json fields = answer.body.value("properties", json::object());
        BlobContainer container;
        container.account = fields.value("accountName", "");
        container.container = fields.value("containerName", "");
        container.account_url = datastore_account_url(fields.value("protocol", "https"), container.account,
                                                       fields.value("endpoint", "core.windows.net"));
        attempt->arm->call("POST", path + "/listSecrets", json::object(), [this, step, container, failed, job, folder](ArmAnswer secrets) mutable {
            Attempt* attempt = find(step);
            if (!attempt) return;
            if (!secrets.ok()) return failed(secrets.error);
            container.key = secrets.body.value("key", "");
            container.sas = secrets.body.value("sasToken", "");
            if (!container.sas.empty() && container.sas.front() == '?') container.sas.erase(0, 1);
            auto storage = std::make_shared<BlobStorage>(*client_, container, options_.blob);
            std::string prefix = "ExperimentRun/dcid." + job + "/outputs";
            storage->download(prefix, folder, [this, step, storage, failed](TransferOutcome got) {
                Attempt* attempt = find(step);
                if (!attempt) return;
                if (!got.ok) return failed(got.error);
                say(*attempt, "outputs: " + std::to_string(got.files_sent) + " files brought back");
                finish(step, *attempt->result);
            });
        }, kArmApiVersion, {}, true);
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
                          say(*attempt, "cannot cancel job '" + attempt->job + "': " + answer.error +
                                            "; it may still run: cancel it in Azure ML studio");
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

namespace amlflow::runtime::azureml {

// A sweep job: the sweep's own states are shown, each trial followed as it appears (its
// ranks' logs relayed, its metrics read into its channel), and at the end the best trial's
// outputs brought into that trial's outputs folder.
void AzureMlBackend::watch_sweep(Attempt& attempt) {
    std::string step = attempt.request.step->name;
    SweepWatchOptions options;
    options.job.job = attempt.job;
    options.job.history_base = workspaces_[attempt.workspace_key].history_base;
    options.job.log_interval = options_.log_interval;
    options.job.status_interval = options_.status_interval;
    options.experiment = experiment_name(attempt.request.step->experiment);
    options.mlflow_base = workspaces_[attempt.workspace_key].mlflow_base;
    auto state = [this, step](const std::string& status) {
        if (Attempt* attempt = find(step)) say(*attempt, "sweep job '" + attempt->job + "' is " + status);
    };
    auto started = [this, step](const TrialStart& trial) {
        Attempt* attempt = find(step);
        if (!attempt || !attempt->callbacks.trial_started) return TrialFiles{};
        say(*attempt, "trial job '" + trial.remote_job + "' started: " + trial.params.dump());
        return attempt->callbacks.trial_started(trial);
    };
    auto ended = [this, step](const TrialEnd& trial) {
        Attempt* attempt = find(step);
        if (attempt && attempt->callbacks.trial_ended) attempt->callbacks.trial_ended(trial);
    };
    attempt.sweep = std::make_shared<SweepWatch>(*attempt.arm, sink_, options, started, ended, state,
                                                 [this, step](const SweepEnd& end) { sweep_ended(step, end); });
    attempt.sweep->start();
}

void AzureMlBackend::sweep_ended(const std::string& step, const SweepEnd& end) {
    Attempt* attempt = find(step);
    if (!attempt) return;
    AttemptResult result;
    result.remote_job = attempt->job;
    result.succeeded = end.status == "Completed" && end.best_index >= 0;
    if (!result.succeeded) {
        bool canceled = end.status == "Canceled" && attempt->stopping;
        result.facts.reason = canceled ? "canceled" : "exit";
        result.facts.exit_code = canceled ? -1 : 1;
        result.message = canceled ? attempt->stop_why
                                  : "sweep job '" + attempt->job + "' ended " + end.status +
                                        (end.error.empty() ? (end.status == "Completed" ? ": the service named no best trial" : "")
                                                           : ": " + end.error);
        return finish(step, result);
    }
    result.best_trial = end.best_index;
    say(*attempt, "best trial: job '" + end.best_job + "' (" + end.best_files.name + ")");
    attempt->result = result;
    bring_outputs(step, end.best_job, end.best_files.outputs);
}

}  // namespace amlflow::runtime::azureml
