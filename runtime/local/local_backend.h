// The local backend: a job's processes on this machine, each in its own process group,
// supervised by a RankGroup on the interpreter's one event loop.
#pragma once

#include <map>
#include <memory>

#include "runtime/core/backend.h"
#include "runtime/core/event_loop.h"
#include "runtime/core/log_relay.h"
#include "runtime/local/rank_group.h"

namespace amlflow::runtime {

struct LocalBackendOptions {
    std::string launcher;                    // amlflow-launch, for the parent-death signal
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
        std::unique_ptr<RankGroup> group;
        AttemptCallbacks callbacks;
        std::vector<std::string> logs;
        bool reported = false;
    };
    void finish(const std::string& step, const GroupOutcome& outcome);
    void report_setup_failure(AttemptCallbacks& callbacks, const std::string& message);

    EventLoop& loop_;
    LocalBackendOptions options_;
    LineSink* sink_;
    std::map<std::string, std::unique_ptr<Running>> running_;
    std::vector<std::unique_ptr<RankGroup>> finished_;  // destroyed outside their callbacks
};

}  // namespace amlflow::runtime
