#include "runtime/hosts/hosts_backend.h"

#include "compiler/rank_variables.h"
#include "runtime/core/job_launch.h"
#include "runtime/hosts/host_list.h"
#include "runtime/hosts/hosts_launch.h"
#include "runtime/hosts/local_address.h"

namespace amlflow::runtime {

struct HostsBackend::Attempt {
    AttemptRequest request;
    AttemptCallbacks callbacks;
    HostsCompute compute;
    Distribution shape;
    std::unique_ptr<ShimGroup> group;
};

HostsBackend::HostsBackend(EventLoop& loop, HostsBackendOptions options, LineSink* sink)
    : loop_(loop), options_(std::move(options)), sink_(sink) {}

HostsBackend::~HostsBackend() = default;

int HostsBackend::process_count(const StepPlan& step) const {
    Distribution shape = distribution_of(step.spec);
    return shape.kind == "per_node" ? shape.nodes : shape.world_size();
}

bool HostsBackend::running(const std::string& step) const { return running_.count(step) > 0; }

namespace {

// Whether the job fits the compute: the checker says so first; this guards a plan made by hand.
bool fits(const HostsCompute& compute, const Distribution& shape, std::string* error) {
    int nodes = shape.nodes, per_node = shape.kind == "per_node" ? 1 : shape.processes_per_node;
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
    if (!raw.compute.shared_fs || !raw.compute.workdir.empty()) {
        return fail_setup(step, "compute '" + raw.compute.compute +
                                    "': a workdir of its own or shared_fs = false is not supported by this build yet");
    }
    run_group(raw);
}

void HostsBackend::run_group(Attempt& attempt) {
    const std::string step = attempt.request.step->name;
    const HostsCompute& compute = attempt.compute;
    AttemptRequest request = attempt.request;
    if (!compute.python.empty()) request.environment["python"] = compute.python;
    request.context.master_addr = compute.hosts[0].name;
    request.context.gpus.clear();  // this machine's GPUs mean nothing on the hosts
    std::string error;
    // The ranks start from their host's own environment (the shim's), not this machine's.
    auto launches = plan_processes(request, {}, &error);
    if (!launches) return fail_setup(step, error);
    std::string address = supervisor_address(compute, &error);
    if (address.empty()) return fail_setup(step, error);

    bool per_node = attempt.shape.kind == "per_node";
    HostsLaunchShape shape;
    shape.nodes = attempt.shape.nodes;
    shape.processes_per_node = per_node ? 1 : attempt.shape.processes_per_node;
    shape.shim = options_.shim;
    shape.step = step;
    shape.subnet = network_of(compute);
    shape.kill_grace_s = static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(options_.grace).count());
    if (shape.kill_grace_s < 1) shape.kill_grace_s = 1;

    ShimGroupOptions options;
    options.ranks = static_cast<int>(launches->size());
    options.listen_address = address;
    options.launcher = options_.launcher;
    options.timeout = std::chrono::milliseconds(duration_ms(request.step->spec, "timeout", 0));
    options.hang_timeout = std::chrono::milliseconds(duration_ms(request.step->spec, "hang_timeout", 0));
    options.grace = options_.grace;
    options.launcher_label = step + " mpirun";
    if (!request.context.attempt_logs.empty()) options.launcher_log = request.context.attempt_logs + "/mpirun.log";
    attempt.group = std::make_unique<ShimGroup>(loop_, options, sink_);

    // mpirun runs with amlflow's environment and the file's variables (OMPI_MCA_* among
    // them), not any rank's identity.
    std::map<std::string, std::string> launcher_env = options_.base_env;
    for (const auto& [key, value] : (*launches)[0].env) {
        if (!compiler::is_distribution_variable(key) && key.rfind("AMLFLOW_", 0) != 0) launcher_env[key] = value;
    }
    SpawnSpec spawn{hosts_mpirun_argv(compute, shape), EnvironmentBuilder::to_envp(launcher_env), request.workdir,
                    options_.launcher};
    auto shared = std::make_shared<std::vector<ProcessLaunch>>(std::move(*launches));
    std::vector<std::string> logs = request.rank_logs;
    std::string cwd = request.workdir, cidr = is_cidr(compute.interface) ? compute.interface : "";
    std::vector<std::string> hosts;
    for (const HostEntry& host : compute.hosts) hosts.push_back(host.name);
    int per_host = shape.processes_per_node;
    RankPlanner planner = [shared, logs, cwd, cidr, hosts, per_host](const ShimHello& hello,
                                                                     std::string* why) -> std::optional<ShimRankPlan> {
        if (hello.rank < 0 || hello.rank >= static_cast<int>(shared->size())) {
            *why = "no rank " + std::to_string(hello.rank);
            return std::nullopt;
        }
        const std::string& host = hosts[static_cast<size_t>(hello.rank / per_host)];
        if (hello.local_rank != hello.rank % per_host) {
            *why = "Open MPI placed rank " + std::to_string(hello.rank) + " as local rank " +
                   std::to_string(hello.local_rank) + " on '" + hello.host + "', not as local rank " +
                   std::to_string(hello.rank % per_host) + " on '" + host + "'";
            return std::nullopt;
        }
        const ProcessLaunch& launch = (*shared)[static_cast<size_t>(hello.rank)];
        ShimRankPlan plan;
        plan.rank = launch.identity.rank;
        plan.local_rank = launch.identity.local_rank;
        plan.node_rank = launch.identity.node_rank;
        plan.argv = launch.argv;
        plan.env = launch.env;
        plan.inherit_env = true;
        plan.cwd = cwd;
        plan.log_path = static_cast<size_t>(hello.rank) < logs.size() ? logs[static_cast<size_t>(hello.rank)] : "";
        plan.label = launch.label + "@" + host;
        plan.host = host;
        plan.interface = cidr;
        auto error_file = launch.env.find("TORCHELASTIC_ERROR_FILE");
        if (error_file != launch.env.end()) plan.error_file = error_file->second;
        return plan;
    };
    ShimGroup& group = *attempt.group;
    AttemptCallbacks callbacks = attempt.callbacks;
    group.on_rank_started([callbacks](const RankStarted& rank) {
        if (callbacks.started) {
            callbacks.started({rank.rank, rank.local_rank, rank.node_rank, static_cast<long>(rank.pid), rank.log_path});
        }
    });
    group.on_rank_exit([callbacks](const RankExit& exit) {
        if (callbacks.exited) {
            callbacks.exited(exit.rank, exit.status.signaled ? -1 : exit.status.code,
                             exit.status.signaled ? exit.status.signal : 0);
        }
    });
    group.on_done([this, step, logs](const GroupOutcome& outcome) { finish(step, attempt_result_from(outcome, logs)); });
    std::string ignored;
    group.start(spawn, planner, &ignored);
}

void HostsBackend::finish(const std::string& step, const AttemptResult& result) {
    auto found = running_.find(step);
    if (found == running_.end()) return;
    std::unique_ptr<Attempt> attempt = std::move(found->second);
    running_.erase(found);
    AttemptCallbacks callbacks = attempt->callbacks;
    // The group may be inside its own callback: keep it alive until the loop comes back.
    finished_.push_back(std::move(attempt));
    loop_.after(std::chrono::milliseconds(0), [this] { finished_.clear(); });
    callbacks.done(result);
}

void HostsBackend::stop(const std::string& step, const std::string& why) {
    auto found = running_.find(step);
    if (found == running_.end()) return;
    if (found->second->group) found->second->group->stop_all(options_.grace, why);
}

void HostsBackend::stop_all(const std::string& why, bool immediately) {
    for (auto& [step, attempt] : running_) {
        if (attempt->group) attempt->group->stop_all(immediately ? EventLoop::Clock::duration::zero() : options_.grace, why);
    }
}

}  // namespace amlflow::runtime
