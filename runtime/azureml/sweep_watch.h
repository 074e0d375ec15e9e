// Following one submitted sweep job (issue 19 item 1): the sweep's own status through a
// JobWatch of its own; its trials, found in run history's list of the sweep's children
// (`<sweep>_<N>`, each with its sampled `hyperparameters`), each told to the executor as it
// appears (TrialStart -> TrialFiles: where its logs and metrics go) and then followed as a
// job is (JobWatch: every rank's log relayed live; MlflowMetrics: its metrics into its
// channel); when a trial ends, whether the service's policy ended it (`early_termination`
// in its run properties). When the sweep ends and every trial's watch has ended, the best
// trial is the one run history names (`best_child_run_id`).
#pragma once

#include <functional>
#include <optional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/azureml/job_watch.h"
#include "runtime/azureml/mlflow_metrics.h"
#include "runtime/core/backend.h"

namespace amlflow::runtime::azureml {

struct SweepWatchOptions {
    JobWatchOptions job;         // the sweep job, run history's base, intervals
    std::string experiment;      // the experiment's name on the service
    std::string mlflow_base;
    int per_node = 1;            // a trial's processes per node (for ranks' node numbers)
};

struct SweepEnd {
    std::string status, error;
    std::string best_job;        // the best trial's job name, "" for none
    int best_index = -1;
    TrialFiles best_files;
};

class SweepWatch : public std::enable_shared_from_this<SweepWatch> {
public:
    using Started = std::function<TrialFiles(const TrialStart&)>;
    using Ended = std::function<void(const TrialEnd&)>;
    using Done = std::function<void(const SweepEnd&)>;

    SweepWatch(ArmClient& arm, LineSink* sink, SweepWatchOptions options, Started started, Ended ended,
               JobWatch::State state, Done done);
    void start();
    void stop();

private:
    struct Child {
        int index = 0;
        TrialFiles files;
        std::vector<std::unique_ptr<LogRelay>> relays;
        std::shared_ptr<JobWatch> watch;
        std::shared_ptr<MlflowMetrics> metrics;
        bool over = false;
    };
    void start_polling();
    void poll_children(std::function<void()> then);
    void add_child(const nlohmann::json& details);
    void child_ended(const std::string& job, const JobEnd& end);
    void sweep_ended(const JobEnd& end);
    void maybe_done();

    ArmClient& arm_;
    LineSink* sink_;
    SweepWatchOptions options_;
    Started started_;
    Ended ended_;
    JobWatch::State state_;
    Done done_;
    std::shared_ptr<JobWatch> sweep_;
    std::map<std::string, std::unique_ptr<Child>> children_;  // by job name
    std::optional<JobEnd> sweep_end_;
    bool stopped_ = false, final_poll_done_ = false;
};

}  // namespace amlflow::runtime::azureml
