#include "runtime/local/local_backend.h"

#include "runtime/local/job_launch.h"

namespace amlflow::runtime {

LocalBackend::LocalBackend(EventLoop& loop, LocalBackendOptions options, LineSink* sink)
    : loop_(loop), options_(std::move(options)), sink_(sink) {}

LocalBackend::~LocalBackend() = default;

int LocalBackend::process_count(const StepPlan& step) const {
    Distribution shape = distribution_of(step.spec);
    return shape.kind == "per_node" || shape.kind == "mpi" ? shape.nodes : shape.world_size();
}

bool LocalBackend::running(const std::string& step) const { return running_.count(step) > 0; }

void LocalBackend::report_setup_failure(AttemptCallbacks& callbacks, const std::string& message) {
    AttemptResult result;
    result.facts.reason = "setup";
    result.message = message;
    // Reported from the loop, like every other end, so callers see one order of events.
    loop_.after(std::chrono::milliseconds(0), [callbacks, result]() { callbacks.done(result); });
}

void LocalBackend::start(const AttemptRequest& request, AttemptCallbacks callbacks) {
    std::string error;
    auto launches = plan_processes(request, options_.base_env, &error);
    if (!launches) {
        report_setup_failure(callbacks, error);
        return;
    }
    RankGroupOptions group_options;
    group_options.launcher = options_.launcher;
    group_options.grace = options_.grace;
    int64_t timeout = duration_ms(request.step->spec, "timeout", 0);
    int64_t hang = duration_ms(request.step->spec, "hang_timeout", 0);
    group_options.timeout = std::chrono::milliseconds(timeout);
    group_options.hang_timeout = std::chrono::milliseconds(hang);
    auto entry = std::make_unique<Running>();
    entry->group = std::make_unique<RankGroup>(loop_, group_options, sink_);
    entry->callbacks = callbacks;
    std::vector<RankSpec> specs;
    for (size_t i = 0; i < launches->size(); ++i) {
        const ProcessLaunch& launch = (*launches)[i];
        RankSpec spec;
        spec.argv = launch.argv;
        spec.env = EnvironmentBuilder::to_envp(launch.env);
        spec.cwd = request.workdir;
        spec.log_path = i < request.rank_logs.size() ? request.rank_logs[i] : "";
        spec.label = launch.label;
        entry->logs.push_back(spec.log_path);
        specs.push_back(std::move(spec));
    }
    std::string step = request.step->name;
    RankGroup& group = *entry->group;
    group.on_rank_exit([this, step](const RankExit& exit) {
        auto found = running_.find(step);
        if (found == running_.end() || !found->second->callbacks.exited) return;
        found->second->callbacks.exited(exit.rank, exit.status.signaled ? -1 : exit.status.code,
                                        exit.status.signaled ? exit.status.signal : 0);
    });
    group.on_done([this, step](const GroupOutcome& outcome) { finish(step, outcome); });
    running_[step] = std::move(entry);
    std::string spawn_error;
    bool started = group.start(std::move(specs), &spawn_error);
    if (callbacks.started) {
        for (size_t i = 0; i < launches->size() && started; ++i) {
            const RankIdentity& id = (*launches)[i].identity;
            callbacks.started({id.rank, id.local_rank, id.node_rank, static_cast<long>(group.pid(static_cast<int>(i))),
                               i < request.rank_logs.size() ? request.rank_logs[i] : ""});
        }
    }
}

void LocalBackend::finish(const std::string& step, const GroupOutcome& outcome) {
    auto found = running_.find(step);
    if (found == running_.end()) return;
    std::unique_ptr<Running> entry = std::move(found->second);
    running_.erase(found);
    AttemptResult result;
    result.succeeded = outcome.succeeded;
    const Failure& failure = outcome.failure;
    result.root_rank = failure.rank;
    result.message = failure.message;
    result.facts.log_lines = outcome.tail;
    switch (failure.kind) {
        case FailureKind::exit_code: result.facts.reason = "exit"; result.facts.exit_code = failure.status.code; break;
        case FailureKind::signal: result.facts.reason = "signal"; result.facts.signal = failure.status.signal; break;
        case FailureKind::timeout: result.facts.reason = "timeout"; break;
        case FailureKind::hang: result.facts.reason = "hang"; break;
        case FailureKind::spawn: result.facts.reason = "setup"; break;
        case FailureKind::stopped: result.facts.reason = "canceled"; break;
        case FailureKind::none: break;
    }
    if (failure.rank >= 0 && static_cast<size_t>(failure.rank) < entry->logs.size()) {
        result.root_log = entry->logs[static_cast<size_t>(failure.rank)];
    }
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
