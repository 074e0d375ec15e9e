// The local backend: a job's processes on this machine, each in its own process group,
// supervised on the interpreter's one event loop: by a RankGroup when amlflow starts the
// ranks itself, by a ShimGroup when an `mpi` job's one mpirun starts them (each through the
// rank shim, so every rank still has its own live log, metrics and exit).
#pragma once

#include <map>
#include <memory>

#include "runtime/core/backend.h"
#include "runtime/core/event_loop.h"
#include "runtime/core/log_relay.h"
#include "runtime/core/shim_group.h"
#include "runtime/core/job_launch.h"
#include "runtime/local/rank_group.h"

namespace amlflow::runtime {

struct LocalBackendOptions {
    std::string launcher;                    // amlflow-launch, for the parent-death signal
    std::string shim;                        // amlflow-rank, which mpirun starts per rank
    std::map<std::string, std::string> base_env;
    EventLoop::Clock::duration grace = std::chrono::seconds(5);
};

class LocalBackend : public Backend {
public:
    LocalBackend(EventLoop& loop, LocalBackendOptions options, LineSink* sink);
    ~LocalBackend() override;

    int process_count(const StepPlan& step) const override;
    void start(const AttemptRequest& request, AttemptCallbacks callbacks) override;
    void stop_all(const std::string& why, bool immediately) override;
    void stop(const std::string& step, const std::string& why) override;
    bool running(const std::string& step) const override;

private:
    struct Running {
        std::unique_ptr<SupervisedGroup> group;
        AttemptCallbacks callbacks;
        std::vector<std::string> logs;
        bool reported = false;
    };
    void finish(const std::string& step, const GroupOutcome& outcome);
    void report_setup_failure(AttemptCallbacks& callbacks, const std::string& message);
    // Each makes the group for an attempt and sets *start to what starts it.
    using Starter = std::function<void()>;
    std::unique_ptr<SupervisedGroup> start_ranks(const AttemptRequest& request, std::vector<ProcessLaunch> launches,
                                                 Starter* start);
    std::unique_ptr<SupervisedGroup> start_mpi(const AttemptRequest& request, std::vector<ProcessLaunch> launches,
                                               Starter* start);

    EventLoop& loop_;
    LocalBackendOptions options_;
    LineSink* sink_;
    std::map<std::string, std::unique_ptr<Running>> running_;
    std::vector<std::unique_ptr<SupervisedGroup>> finished_;  // destroyed outside their callbacks
};

}  // namespace amlflow::runtime
