#include "runtime/local/local_backend.h"

#include <filesystem>

#include "compiler/rank_variables.h"

namespace amlflow::runtime {

LocalBackend::LocalBackend(EventLoop& loop, LocalBackendOptions options, LineSink* sink)
    : loop_(loop), options_(std::move(options)), sink_(sink) {}

LocalBackend::~LocalBackend() = default;

int LocalBackend::process_count(const StepPlan& step) const {
    Distribution shape = distribution_of(step.spec);
    return shape.launched();
}

bool LocalBackend::running(const std::string& step) const { return running_.count(step) > 0; }

void LocalBackend::report_setup_failure(AttemptCallbacks& callbacks, const std::string& message) {
    AttemptResult result;
    result.facts.reason = "setup";
    result.message = message;
    // Reported from the loop, like every other end, so callers see one order of events.
    loop_.after(std::chrono::milliseconds(0), [callbacks, result]() { callbacks.done(result); });
}

namespace {

RankGroupOptions group_options(const AttemptRequest& request, const LocalBackendOptions& options) {
    RankGroupOptions out;
    out.launcher = options.launcher;
    out.grace = options.grace;
    out.timeout = std::chrono::milliseconds(duration_ms(request.step->spec, "timeout", 0));
    out.hang_timeout = std::chrono::milliseconds(duration_ms(request.step->spec, "hang_timeout", 0));
    out.whole_lines = whole_line_logs();
    return out;
}

}  // namespace

std::unique_ptr<SupervisedGroup> LocalBackend::start_ranks(const AttemptRequest& request,
                                                           std::vector<ProcessLaunch> launches, Starter* start) {
    auto group = std::make_unique<RankGroup>(loop_, group_options(request, options_), sink_);
    std::vector<RankSpec> specs;
    for (size_t i = 0; i < launches.size(); ++i) {
        ProcessLaunch& launch = launches[i];
        RankSpec spec;
        spec.argv = std::move(launch.argv);
        spec.error_file = error_file_of(launch);
        spec.env = EnvironmentBuilder::to_envp(launch.env);
        spec.cwd = request.workdir;
        spec.log_path = i < request.rank_logs.size() ? request.rank_logs[i] : "";
        spec.label = launch.label;
        spec.rank = launch.identity.rank;
        spec.local_rank = launch.identity.local_rank;
        spec.node_rank = launch.identity.node_rank;
        specs.push_back(std::move(spec));
    }
    RankGroup* raw = group.get();
    auto shared_specs = std::make_shared<std::vector<RankSpec>>(std::move(specs));
    *start = [raw, shared_specs] {
        std::string ignored;
        raw->start(std::move(*shared_specs), &ignored);
    };
    return group;
}

std::unique_ptr<SupervisedGroup> LocalBackend::start_mpi(const AttemptRequest& request,
                                                         std::vector<ProcessLaunch> launches, Starter* start) {
    RankGroupOptions base = group_options(request, options_);
    ShimGroupOptions options;
    options.ranks = static_cast<int>(launches.size());
    options.launcher = options_.launcher;
    options.timeout = base.timeout;
    options.hang_timeout = base.hang_timeout;
    options.grace = options_.grace;
    options.launcher_label = request.step->name + " mpirun";
    if (!request.context.attempt_logs.empty()) options.launcher_log = request.context.attempt_logs + "/mpirun.log";
    auto group = std::make_unique<ShimGroup>(loop_, options, sink_);
    // mpirun runs with amlflow's environment and the file's variables (OMPI_MCA_* among
    // them), not any rank's identity: what the distribution sets per rank is left out.
    std::map<std::string, std::string> launcher_env = options_.base_env;
    if (!launches.empty()) {
        for (const auto& [key, value] : launches[0].env) {
            if (!compiler::is_distribution_variable(key)) launcher_env[key] = value;
        }
    }
    SpawnSpec spawn{mpirun_argv(options.ranks, options_.shim, request.step->name),
                    EnvironmentBuilder::to_envp(launcher_env), request.workdir, options_.launcher};
    auto shared = std::make_shared<std::vector<ProcessLaunch>>(std::move(launches));
    std::vector<std::string> logs = request.rank_logs;
    std::string cwd = request.workdir;
    // Open MPI numbers the ranks; the shim of rank N runs launch N, whose identity is that
    // number (on this machine, `nodes` are consecutive blocks of processes_per_node ranks).
    RankPlanner planner = [shared, logs, cwd](const ShimHello& hello, std::string* why) -> std::optional<ShimRankPlan> {
        if (hello.rank < 0 || hello.rank >= static_cast<int>(shared->size())) {
            *why = "no rank " + std::to_string(hello.rank);
            return std::nullopt;
        }
        size_t index = static_cast<size_t>(hello.rank);
        return shim_plan_of((*shared)[index], cwd, index < logs.size() ? logs[index] : "");
    };
    ShimGroup* raw = group.get();
    *start = [raw, spawn, planner] {
        std::string ignored;
        raw->start(spawn, planner, &ignored);
    };
    return group;
}

void LocalBackend::start(const AttemptRequest& request, AttemptCallbacks callbacks) {
    std::string error;
    auto launches = plan_processes(request, options_.base_env, &error);
    if (!launches) {
        report_setup_failure(callbacks, error);
        return;
    }
    bool mpi = distribution_of(request.step->spec).kind == "mpi";
    if (mpi && options_.shim.empty()) {
        report_setup_failure(callbacks, "amlflow-rank, the rank shim that mpirun starts, is not beside amlflow");
        return;
    }
    auto entry = std::make_unique<Running>();
    entry->callbacks = callbacks;
    entry->logs = request.rank_logs;
    // The group starts once its callbacks are set and it is registered: a spawn failure
    // reports done from inside start().
    Starter start;
    entry->group = mpi ? start_mpi(request, std::move(*launches), &start) : start_ranks(request, std::move(*launches), &start);
    std::string step = request.step->name;
    SupervisedGroup& group = *entry->group;
    group.on_rank_started([this, step](const RankStarted& rank) {
        auto found = running_.find(step);
        if (found == running_.end() || !found->second->callbacks.started) return;
        found->second->callbacks.started({rank.rank, rank.local_rank, rank.node_rank, static_cast<long>(rank.pid), rank.log_path,
                                          ""});  // on this machine
    });
    group.on_rank_exit([this, step](const RankExit& exit) {
        auto found = running_.find(step);
        if (found == running_.end() || !found->second->callbacks.exited) return;
        found->second->callbacks.exited(exit.rank, exit.status.signaled ? -1 : exit.status.code,
                                        exit.status.signaled ? exit.status.signal : 0);
    });
    group.on_done([this, step](const GroupOutcome& outcome) { finish(step, outcome); });
    running_[step] = std::move(entry);
    start();
}

void LocalBackend::finish(const std::string& step, const GroupOutcome& outcome) {
    auto found = running_.find(step);
    if (found == running_.end()) return;
    std::unique_ptr<Running> entry = std::move(found->second);
    running_.erase(found);
    AttemptResult result = attempt_result_from(outcome, entry->logs);
    AttemptCallbacks callbacks = entry->callbacks;
    // The group is inside its own callback: keep it alive until the loop comes back.
    finished_.push_back(std::move(entry->group));
    loop_.after(std::chrono::milliseconds(0), [this]() { finished_.clear(); });
    callbacks.done(result);
}

void LocalBackend::stop(const std::string& step, const std::string& why) {
    auto found = running_.find(step);
    if (found != running_.end()) found->second->group->stop_all(options_.grace, why);
}

void LocalBackend::stop_all(const std::string& why, bool immediately) {
    for (auto& [step, entry] : running_) {
        entry->group->stop_all(immediately ? EventLoop::Clock::duration::zero() : options_.grace, why);
    }
}

}  // namespace amlflow::runtime
