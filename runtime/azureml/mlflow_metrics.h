// A remote job's metrics, read from the workspace's MLflow tracking server (issue 19 item 2;
// NOTES "MLflow metrics"): what the job's processes logged there (amlflow's Python helper
// through MLflow's REST API, or a script calling mlflow.log_metric itself) is polled with
// `runs/get` (the metric keys and params) and `metrics/get-history` (each key's values,
// of which only those not yet seen are new), and appended to the attempt's metrics channel
// file `rank-0.jsonl` in the very lines a local rank writes (runtime/store/metrics_reader.h),
// so the executor records them, drives sweeps and reports from them as it does locally. The
// run id is the job's name. Read every `interval` while the job runs and once more at its end.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "runtime/azureml/arm_client.h"

namespace amlflow::runtime::azureml {

// The tracking server's base for the REST calls: the API host run history is on (from the
// workspace's discovery URL) and the path of the workspace's `mlFlowTrackingUri`
// (`azureml://<region>.api.azureml.ms/mlflow/v1.0/subscriptions/...`).
std::string mlflow_base(const std::string& api_base, const std::string& tracking_uri, const WorkspaceRef& workspace);

struct MlflowMetricsOptions {
    std::string base;           // mlflow_base(...)
    std::string run_id;         // the job's name
    std::string channel_file;   // <metrics folder>/rank-0.jsonl
    std::chrono::milliseconds interval{2000};
};

class MlflowMetrics : public std::enable_shared_from_this<MlflowMetrics> {
public:
    MlflowMetrics(ArmClient& arm, MlflowMetricsOptions options) : arm_(arm), options_(std::move(options)) {}
    void start();
    // One last read, then `then` (also when the server does not answer).
    void finish(std::function<void()> then);
    void stop() { stopped_ = true; }
    // Whether any record reached the channel file (then it holds rank 0's records).
    bool wrote() const { return wrote_; }

private:
    void poll(std::function<void()> then);
    void read_history(const std::string& key, std::function<void()> then);
    void append(const std::string& lines);

    ArmClient& arm_;
    MlflowMetricsOptions options_;
    std::map<std::string, size_t> seen_;         // key -> values already written
    std::set<std::string> params_;               // params already written
    bool stopped_ = false, polling_ = false, finishing_ = false, wrote_ = false;
};

}  // namespace amlflow::runtime::azureml
