#include "runtime/azureml/sweep_watch.h"

namespace amlflow::runtime::azureml {
using nlohmann::json;

namespace {

// N of "<sweep>_N"; -1 for a name of another shape.
int trial_index(const std::string& sweep, const std::string& child) {
    if (child.size() <= sweep.size() + 1 || child.compare(0, sweep.size() + 1, sweep + "_") != 0) return -1;
    std::string digits = child.substr(sweep.size() + 1);
    if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stoi(digits);
}

json properties_of(const json& details) {
    return details.is_object() ? details.value("properties", json::object()) : json::object();
}

}  // namespace

SweepWatch::SweepWatch(ArmClient& arm, LineSink* sink, SweepWatchOptions options, Started started, Ended ended,
                       JobWatch::State state, Done done)
    : arm_(arm), sink_(sink), options_(std::move(options)), started_(std::move(started)), ended_(std::move(ended)),
      state_(std::move(state)), done_(std::move(done)) {}

void SweepWatch::start() {
    auto self = shared_from_this();
    sweep_ = std::make_shared<JobWatch>(arm_, options_.job, std::vector<LogRelay*>{}, state_,
                                        [self](const JobEnd& end) { self->sweep_ended(end); });
    sweep_->start();
    poll_children([self] { self->start_polling(); });
}

void SweepWatch::start_polling() {
    if (stopped_ || sweep_end_) return;
    auto self = shared_from_this();
    arm_.client().loop().after(options_.job.log_interval, [self] {
        if (!self->stopped_ && !self->sweep_end_) self->poll_children([self] { self->start_polling(); });
    });
}

void SweepWatch::stop() {
    stopped_ = true;
    if (sweep_) sweep_->stop();
    for (auto& [job, child] : children_) {
        if (child->watch) child->watch->stop();
        if (child->metrics) child->metrics->stop();
    }
}

void SweepWatch::poll_children(std::function<void()> then) {
    std::string url = options_.job.history_base + "/history/v1.0" + workspace_path(arm_.workspace()) + "/experiments/" +
                      percent_encode(options_.experiment) + "/runs/" + percent_encode(options_.job.job) + "/children";
    auto self = shared_from_this();
    arm_.get_url(url, true, [self, then](ArmAnswer answer) {
        if (self->stopped_) return;
        if (answer.ok() && answer.body.is_object()) {
            std::vector<json> found = answer.body.value("value", json::array());
            // In trial order, so that trials appear on the board as the service numbered them.
            std::sort(found.begin(), found.end(), [&](const json& a, const json& b) {
                return trial_index(self->options_.job.job, a.value("runId", "")) <
                       trial_index(self->options_.job.job, b.value("runId", ""));
            });
            for (const json& child : found) self->add_child(child);
        }
        then();
    });
}

void SweepWatch::add_child(const json& details) {
    std::string job = details.value("runId", "");
    int index = trial_index(options_.job.job, job);
    if (index < 0 || children_.count(job)) return;
    auto child = std::make_unique<Child>();
    child->index = index;
    TrialStart start;
    start.index = index;
    start.remote_job = job;
    start.params = json::parse(properties_of(details).value("hyperparameters", "{}"), nullptr, false);
    if (!start.params.is_object()) start.params = json::object();
    child->files = started_(start);
    std::string error;
    std::vector<LogRelay*> relays;
    for (size_t rank = 0; rank < child->files.rank_logs.size(); ++rank) {
        LogRelayOptions relay;
        relay.label = child->files.name + (child->files.rank_logs.size() > 1 ? " " + std::to_string(rank) : "");
        relay.colour = index + static_cast<int>(rank);
        relay.path = child->files.rank_logs[rank];
        child->relays.push_back(std::make_unique<LogRelay>(arm_.client().loop(), relay, sink_));
        child->relays.back()->open(&error);
        relays.push_back(child->relays.back().get());
    }
    JobWatchOptions watch = options_.job;
    watch.job = job;
    auto self = shared_from_this();
    child->watch = std::make_shared<JobWatch>(arm_, watch, relays, nullptr,
                                              [self, job](const JobEnd& end) { self->child_ended(job, end); });
    MlflowMetricsOptions metrics;
    metrics.base = options_.mlflow_base;
    metrics.run_id = job;
    metrics.channel_file = child->files.metrics_folder + "/rank-0.jsonl";
    metrics.interval = options_.job.log_interval;
    child->metrics = std::make_shared<MlflowMetrics>(arm_, metrics);
    Child& raw = *child;
    children_[job] = std::move(child);
    raw.watch->start();
    raw.metrics->start();
}

void SweepWatch::child_ended(const std::string& job, const JobEnd& end) {
    auto self = shared_from_this();
    Child* child = children_[job].get();
    child->metrics->finish([self, job, end] {
        if (self->stopped_) return;
        // Whether the sweep's policy canceled it: its run properties say so.
        std::string url = self->options_.job.history_base + "/history/v1.0" + workspace_path(self->arm_.workspace()) +
                          "/runs/" + percent_encode(job) + "/details";
        self->arm_.get_url(url, true, [self, job, end](ArmAnswer answer) {
            if (self->stopped_) return;
            Child& child = *self->children_[job];
            for (auto& relay : child.relays) {
                relay->end(Stream::out);
                relay->finish();
            }
            std::string policy = answer.ok() ? properties_of(answer.body).value("early_termination", "") : "";
            TrialEnd out;
            out.index = child.index;
            out.state = end.status == "Completed" ? "succeeded"
                        : !policy.empty()         ? "stopped_early"
                        : end.status == "Canceled" ? "canceled"
                                                   : "failed";
            out.message = !policy.empty() ? "stopped early by the sweep's " + policy + " policy"
                                          : "trial job '" + job + "' ended " + end.status +
                                                (end.error.empty() ? "" : ": " + end.error);
            child.over = true;
            self->ended_(out);
            self->maybe_done();
        });
    });
}

void SweepWatch::sweep_ended(const JobEnd& end) {
    sweep_end_ = end;
    auto self = shared_from_this();
    // Trials that began and ended between two polls are found now.
    poll_children([self] {
        self->final_poll_done_ = true;
        self->maybe_done();
    });
}

void SweepWatch::maybe_done() {
    if (stopped_ || !sweep_end_ || !final_poll_done_ || !done_) return;
    for (const auto& [job, child] : children_) {
        if (!child->over) return;
    }
    Done done = std::move(done_);
    done_ = nullptr;
    std::string url = options_.job.history_base + "/history/v1.0" + workspace_path(arm_.workspace()) + "/runs/" +
                      percent_encode(options_.job.job) + "/details";
    auto self = shared_from_this();
    arm_.get_url(url, true, [self, done](ArmAnswer answer) {
        if (self->stopped_) return;
        SweepEnd end;
        end.status = self->sweep_end_->status;
        end.error = self->sweep_end_->error;
        end.best_job = answer.ok() ? properties_of(answer.body).value("best_child_run_id", "") : "";
        auto best = self->children_.find(end.best_job);
        if (best != self->children_.end()) {
            end.best_index = best->second->index;
            end.best_files = best->second->files;
        } else {
            end.best_job.clear();
        }
        done(end);
    });
}

}  // namespace amlflow::runtime::azureml
