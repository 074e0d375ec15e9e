#include "runtime/hosts/hosts_backend.h"

#include <filesystem>

#include "compiler/rank_variables.h"
#include "runtime/core/job_launch.h"
#include "runtime/core/host_list.h"
#include "runtime/hosts/host_preflight.h"
#include "runtime/hosts/host_staging.h"
#include "runtime/hosts/hosts_launch.h"
#include "runtime/hosts/hosts_ranks.h"
#include "runtime/hosts/local_address.h"
#include "runtime/hosts/ssh_masters.h"

namespace amlflow::runtime {

struct HostsBackend::Attempt {
    AttemptRequest request;
    AttemptCallbacks callbacks;
    HostsCompute compute;
    Distribution shape;
    std::vector<std::string> hosts;  // the job's hosts, in rank order
    StagingMode staging_mode = StagingMode::none;
    std::unique_ptr<HostPreflight> preflight;
    std::unique_ptr<SshMasters> masters;  // mpirun waits for the shared ssh connections
    std::unique_ptr<HostStaging> staging;
    std::unique_ptr<ShimGroup> group;
    PreflightReport report;
    std::optional<AttemptResult> result;  // held while rank 0's files come back
    bool stopping = false, done_reported = false;
    std::string setup_error;  // the hosts failed their check while mpirun was starting
    AttemptRequest remote;    // the request as the hosts see it (their paths)
    // The ranks, planned once (plan_ranks); shared with the group's planner.
    std::shared_ptr<HostsRankContext> ranks;
    std::shared_ptr<std::vector<ProcessLaunch>> launches;
};

HostsBackend::HostsBackend(EventLoop& loop, HostsBackendOptions options, LineSink* sink)
    : loop_(loop), options_(std::move(options)), sink_(sink) {}

HostsBackend::~HostsBackend() = default;

int HostsBackend::process_count(const StepPlan& step) const {
    Distribution shape = distribution_of(step.spec);
    return shape.launched();
}

bool HostsBackend::running(const std::string& step) const { return running_.count(step) > 0; }

namespace {

// Whether the job fits the compute: the checker says so first; this guards a plan made by hand.
bool fits(const HostsCompute& compute, const Distribution& shape, std::string* error) {
    int nodes = shape.nodes, per_node = shape.launched_per_node();
    if (nodes > static_cast<int>(compute.hosts.size())) {
        *error = "the job asks for " + std::to_string(nodes) + " nodes but compute '" + compute.compute + "' lists " +
                 std::to_string(compute.hosts.size()) + " hosts";
        return false;
    }
    for (int i = 0; i < nodes; ++i) {
        const HostEntry& host = compute.hosts[static_cast<size_t>(i)];
        if (host.slots < per_node) {
            *error = "host '" + host.name + "' has " + std::to_string(host.slots) + " slots, fewer than the job's " +
                     std::to_string(per_node) + " processes per node";
            return false;
        }
    }
    return true;
}

}  // namespace

void HostsBackend::fail_setup(const std::string& step, const std::string& message) {
    AttemptResult result;
    result.facts.reason = "setup";
    result.message = message;
    // Reported from the loop, like every other end, so callers see one order of events.
    loop_.after(std::chrono::milliseconds(0), [this, step, result] { finish(step, result); });
}

void HostsBackend::start(const AttemptRequest& request, AttemptCallbacks callbacks) {
    const std::string& step = request.step->name;
    auto attempt = std::make_unique<Attempt>();
    attempt->request = request;
    attempt->callbacks = std::move(callbacks);
    attempt->shape = distribution_of(request.step->spec);
    Attempt& raw = *attempt;
    running_[step] = std::move(attempt);
    std::string error;
    auto compute = hosts_compute_from(request.compute, &error);
    if (!compute || !fits(*compute, raw.shape, &error)) return fail_setup(step, error);
    raw.compute = std::move(*compute);
    const std::string& id = request.step->compute;
    raw.compute.compute = id.substr(id.find(':') + 1);
    for (int i = 0; i < raw.shape.nodes; ++i) raw.hosts.push_back(raw.compute.hosts[static_cast<size_t>(i)].name);
    check_hosts(raw);
}

// Before any rank starts: every host reachable, with this Open MPI, the interpreter, the
// packages, the GPUs and slots (host_preflight.h); one message per problem. Where the hosts
// see this machine's files, mpirun starts meanwhile (its ssh connections take as long as
// the check), and its shims wait for their plans until the check has passed. It starts
// once the check's ssh has opened the shared connection to each host (ssh_masters.h), so
// that it rides them instead of a second key exchange per host at the same moment.
void HostsBackend::check_hosts(Attempt& attempt) {
    PreflightRequest ask;
    ask.nodes = attempt.shape.nodes;
    ask.processes_per_node = attempt.shape.launched_per_node();
    ask.gpus_per_host = gpus_asked(attempt.compute.gpus);
    ask.python = !attempt.compute.python.empty() ? attempt.compute.python
                                                 : attempt.request.environment.value("python", "python3");
    for (const auto& item : attempt.request.environment.value("pip", nlohmann::json::array())) {
        if (item.is_string()) ask.requirements.push_back(item.get<std::string>());
    }
    if (!options_.cache_folder.empty()) ask.cache = options_.cache_folder;
    ask.master_port = attempt.request.context.master_port;
    attempt.staging_mode = staging_mode(attempt.compute, options_.run_store_folder);
    attempt.preflight = std::make_unique<HostPreflight>(loop_, attempt.compute, ask);
    std::string step = attempt.request.step->name;
    attempt.preflight->start([this, step](const PreflightReport& report) {
        auto found = running_.find(step);
        if (found == running_.end()) return;
        Attempt& attempt = *found->second;
        attempt.report = report;
        finished_preflights_.push_back(std::move(attempt.preflight));
        attempt.masters.reset();  // mpirun has started, or starts now, or not at all
        if (!report.ok()) {
            std::string message = "the hosts cannot run this job:";
            for (const std::string& problem : report.problems) message += "\n  " + problem;
            if (!attempt.group) return fail_setup(step, message);
            attempt.setup_error = message;  // reported when the waiting shims are gone
            return attempt.group->stop_all(EventLoop::Clock::duration::zero(), message);
        }
        if (attempt.callbacks.checked) attempt.callbacks.checked();  // "step 'x' started" only now
        if (attempt.group) return open_ranks(attempt);
        stage_files(attempt);
    });
    if (attempt.staging_mode == StagingMode::none) {
        std::string ignored;
        std::string address = supervisor_address(attempt.compute, "", &ignored);
        if (address.empty()) return;
        attempt.masters = std::make_unique<SshMasters>(loop_, attempt.compute, attempt.hosts);
        attempt.masters->wait([this, step, address] {
            auto found = running_.find(step);
            if (found != running_.end() && !found->second->group && !found->second->stopping) {
                start_launcher(*found->second, address);
            }
        });
    }
}

// The snapshot, helper, shim and inputs to hosts that do not share this machine's disk,
// and the checkpoint folder to every host (host_staging.h).
void HostsBackend::stage_files(Attempt& attempt) {
    if (attempt.staging_mode == StagingMode::none) {
        start_launcher(attempt);
        return open_ranks(attempt);
    }
    const AttemptRequest& request = attempt.request;
    StagingRequest files;
    files.run_id = request.context.run_id;
    files.step = request.step->name;
    files.attempt = request.context.attempt + 1;
    files.snapshot = request.workdir;
    // ./outputs and ./logs lead into this machine's run store, which the hosts do not see:
    // their own lead into the attempt's folders there (staging_layout.h's work folder).
    std::error_code ignored;
    for (const char* link : {"outputs", "logs"}) {
        if (std::filesystem::is_symlink(std::filesystem::path(request.workdir) / link, ignored)) {
            std::filesystem::remove(std::filesystem::path(request.workdir) / link, ignored);
        }
    }
    files.helper = request.context.python_lib;
    files.shim = options_.shim;
    files.inputs = job_inputs(request);
    attempt.staging = std::make_unique<HostStaging>(loop_, attempt.compute, attempt.staging_mode, attempt.hosts);
    std::string error;
    if (!attempt.staging->prepare(files, &error)) return fail_setup(request.step->name, error);
    std::string step = request.step->name;
    attempt.staging->push(request.context.checkpoints, [this, step](const StagingOutcome& outcome) {
        auto found = running_.find(step);
        if (found == running_.end()) return;
        if (!outcome.ok()) {
            std::string message = "the job's files could not reach the hosts:";
            for (const std::string& problem : outcome.problems) message += "\n  " + problem;
            return fail_setup(step, message);
        }
        start_launcher(*found->second);
        open_ranks(*found->second);
    });
}

// What the ranks of the attempt run (hosts_ranks.h), planned once, when mpirun is about to
// start: mpirun's own variables and each rank's environment both come from it. Where the
// ranks meet and which GPUs they see are the hosts' facts, added by add_facts() once their
// check has answered (mpirun may start before that).
bool HostsBackend::plan_ranks(Attempt& attempt, std::string* error) {
    if (attempt.launches) return true;
    auto ranks = std::make_shared<HostsRankContext>();
    ranks->compute = &attempt.compute;
    ranks->hosts = attempt.hosts;
    ranks->per_host = attempt.shape.launched_per_node();
    ranks->layout = attempt.staging ? &attempt.staging->layout() : nullptr;
    auto named = [](const nlohmann::json& fields) {
        return fields.contains("variables") && fields["variables"].is_object() && fields["variables"].contains("CUDA_VISIBLE_DEVICES");
    };
    ranks->file_sets_gpus = named(attempt.request.environment) || named(attempt.request.step->spec);
    attempt.remote = request_on_hosts(attempt.request, *ranks);
    // The ranks start from their host's own environment (the shim's), not this machine's.
    auto launches = plan_processes(attempt.remote, {}, error);
    if (!launches) return false;
    if (ranks->layout) relocate_inputs(*launches, *ranks->layout);
    attempt.ranks = std::move(ranks);
    attempt.launches = std::make_shared<std::vector<ProcessLaunch>>(std::move(*launches));
    return true;
}

// The hosts' answers to their check: their addresses (the first is where the ranks meet),
// the rendezvous port free on the first host, and the GPUs each host grants the job.
void HostsBackend::add_facts(Attempt& attempt) {
    HostsRankContext& ranks = *attempt.ranks;
    ranks.addresses.clear();
    std::vector<std::vector<int>> found;
    for (const HostFacts& facts : attempt.report.hosts) {
        ranks.addresses.push_back(facts.address);
        found.emplace_back();
        for (const HostGpuFact& gpu : facts.gpus) found.back().push_back(gpu.index);
    }
    ranks.master_port = attempt.report.hosts.empty() ? 0 : attempt.report.hosts[0].free_port;
    std::vector<std::vector<int>> slots;
    for (const nlohmann::json& held : attempt.request.compute.value("$slots", nlohmann::json::array())) {
        slots.push_back(held.is_array() ? held.get<std::vector<int>>() : std::vector<int>{});
    }
    ranks.gpus = gpus_by_host(attempt.compute.gpus, found, ranks.file_sets_gpus, slots);
}

// mpirun, once per attempt; its shims wait for open_ranks().
void HostsBackend::start_launcher(Attempt& attempt, std::string address) {
    const std::string step = attempt.request.step->name;
    const HostsCompute& compute = attempt.compute;
    std::string error;
    if (!plan_ranks(attempt, &error)) return fail_setup(step, error);
    if (address.empty()) {
        std::string first = attempt.report.hosts.empty() ? "" : attempt.report.hosts[0].address;
        address = supervisor_address(compute, first, &error);
        if (address.empty()) return fail_setup(step, error);
    }
    const std::vector<ProcessLaunch>& launches = *attempt.launches;
    const HostsRankContext& ranks = *attempt.ranks;

    HostsLaunchShape shape;
    shape.nodes = attempt.shape.nodes;
    shape.processes_per_node = ranks.per_host;
    shape.shim = ranks.layout ? ranks.layout->shim : options_.shim;
    shape.step = step;
    shape.subnet = network_of(compute);

    ShimGroupOptions options;
    options.ranks = static_cast<int>(launches.size());
    options.listen_address = address;
    options.launcher = options_.launcher;
    options.timeout = std::chrono::milliseconds(duration_ms(attempt.request.step->spec, "timeout", 0));
    options.hang_timeout = std::chrono::milliseconds(duration_ms(attempt.request.step->spec, "hang_timeout", 0));
    options.grace = options_.grace;
    options.launcher_label = step + " mpirun";
    const std::string& attempt_logs = attempt.request.context.attempt_logs;
    if (!attempt_logs.empty()) options.launcher_log = attempt_logs + "/mpirun.log";
    attempt.group = std::make_unique<ShimGroup>(loop_, options, sink_);

    // mpirun runs with amlflow's environment and the file's variables (OMPI_MCA_* among
    // them), not any rank's identity.
    std::map<std::string, std::string> launcher_env = options_.base_env;
    for (const auto& [key, value] : launches[0].env) {
        if (!compiler::is_distribution_variable(key) && key.rfind("AMLFLOW_", 0) != 0) launcher_env[key] = value;
    }
    SpawnSpec spawn{hosts_mpirun_argv(compute, shape), EnvironmentBuilder::to_envp(launcher_env),
                    attempt.request.workdir, options_.launcher};
    ShimGroup& group = *attempt.group;
    AttemptCallbacks callbacks = attempt.callbacks;
    group.on_rank_started([callbacks](const RankStarted& rank) {
        if (callbacks.started) {
            callbacks.started({rank.rank, rank.local_rank, rank.node_rank, static_cast<long>(rank.pid), rank.log_path,
                               rank.host});
        }
    });
    group.on_rank_exit([callbacks](const RankExit& exit) {
        if (callbacks.exited) {
            callbacks.exited(exit.rank, exit.status.signaled ? -1 : exit.status.code,
                             exit.status.signaled ? exit.status.signal : 0);
        }
    });
    std::vector<std::string> logs = attempt.request.rank_logs;
    group.on_done([this, step, logs](const GroupOutcome& outcome) { bring_back(step, attempt_result_from(outcome, logs)); });
    std::string ignored;
    group.start(spawn, nullptr, &ignored);
}

// The hosts passed their check: each waiting (and later) shim gets its rank's plan.
void HostsBackend::open_ranks(Attempt& attempt) {
    if (!attempt.group || attempt.group->done()) return;
    add_facts(attempt);
    int asked = attempt.request.context.master_port, port = attempt.ranks->master_port;
    if (port > 0 && port != asked && attempt.callbacks.port_moved) attempt.callbacks.port_moved(port);
    auto launches = attempt.launches;
    auto ranks = attempt.ranks;
    AttemptRequest local = attempt.request;
    std::string cwd = attempt.remote.workdir;
    attempt.group->set_planner([launches, ranks, local, cwd](const ShimHello& hello, std::string* why) {
        return rank_plan_for(hello, *launches, *ranks, local, cwd, why);
    });
}

// After the attempt, failed or not: rank 0's outputs, logs and checkpoints come back into
// the run store (the next attempt resumes from those checkpoints).
void HostsBackend::bring_back(const std::string& step, AttemptResult result) {
    auto found = running_.find(step);
    if (found == running_.end()) return;
    Attempt& attempt = *found->second;
    if (!attempt.setup_error.empty()) {
        AttemptResult setup;
        setup.facts.reason = "setup";
        setup.message = attempt.setup_error;
        return finish(step, setup);
    }
    if (!attempt.staging || attempt.staging->busy()) return finish(step, result);
    attempt.result = result;
    const AttemptContext& context = attempt.request.context;
    attempt.staging->pull({context.outputs, context.logs, context.checkpoints}, [this, step](const StagingOutcome& outcome) {
        auto found = running_.find(step);
        if (found == running_.end()) return;
        AttemptResult result = *found->second->result;
        if (!outcome.ok() && result.succeeded) {
            result.succeeded = false;
            result.facts.reason = "setup";
            result.message = "rank 0's files could not come back:";
            for (const std::string& problem : outcome.problems) result.message += "\n  " + problem;
        }
        finish(step, result);
    });
}

void HostsBackend::finish(const std::string& step, const AttemptResult& result) {
    auto found = running_.find(step);
    if (found == running_.end()) return;
    std::unique_ptr<Attempt> attempt = std::move(found->second);
    running_.erase(found);
    if (attempt->done_reported) return;
    attempt->done_reported = true;
    AttemptCallbacks callbacks = attempt->callbacks;
    // The group may be inside its own callback: keep it alive until the loop comes back.
    finished_.push_back(std::move(attempt));
    loop_.after(std::chrono::milliseconds(0), [this] {
        finished_.clear();
        finished_preflights_.clear();
    });
    callbacks.done(result);
}

void HostsBackend::stop(const std::string& step, const std::string& why) {
    auto found = running_.find(step);
    if (found != running_.end()) stop_attempt(*found->second, options_.grace, why);
}

// A running group stops as a local one does; before it (checking hosts, copying files) or
// after it (files coming back), what runs is dropped and the attempt ends as canceled.
void HostsBackend::stop_attempt(Attempt& attempt, EventLoop::Clock::duration grace, const std::string& why) {
    if (attempt.group && !attempt.group->done()) return attempt.group->stop_all(grace, why);
    if (attempt.stopping) return;
    attempt.stopping = true;
    finished_preflights_.push_back(std::move(attempt.preflight));
    attempt.masters.reset();
    AttemptResult result = attempt.result.value_or(AttemptResult{});
    if (!attempt.result) {
        result.facts.reason = "canceled";
        result.message = why;
    }
    std::string step = attempt.request.step->name;
    loop_.after(std::chrono::milliseconds(0), [this, step, result] { finish(step, result); });
}

void HostsBackend::stop_all(const std::string& why, bool immediately) {
    for (auto& [step, attempt] : running_) {
        stop_attempt(*attempt, immediately ? EventLoop::Clock::duration::zero() : options_.grace, why);
    }
}

}  // namespace amlflow::runtime
