// What a finished job leaves in the workspace's artifact store, brought into the local run
// store (issue 18 items 5 and 8): its ./outputs into the step's outputs folder (a completed
// job only), its ./logs into the step's logs folder, and the metrics files the ranks wrote
// under ./logs/amlflow-metrics (command_job.h: AMLFLOW_METRICS) copied from there into the
// attempt's metrics folder, where the executor reads them as it reads a local attempt's;
// but not the files whose records already came live from MLflow (mlflow_metrics.h), which
// would be recorded twice.
#pragma once

#include <filesystem>
#include <functional>
#include <set>
#include <string>

#include "runtime/azureml/arm_client.h"
#include "runtime/azureml/blob_storage.h"

namespace amlflow::runtime::azureml {

struct ArtifactTargets {
    std::filesystem::path outputs;   // empty: the outputs are not wanted (a failed job)
    std::filesystem::path logs;      // empty: neither logs nor metrics (a sweep's best trial)
    std::filesystem::path metrics;
    std::set<std::string> metrics_covered;  // channel files already written ("rank-0.jsonl")
};

struct ArtifactOutcome {
    std::string error;               // "" when everything came
    int outputs = 0, logs = 0;       // files brought back
};

// The job's artifacts (`ExperimentRun/dcid.<job>/...` on `workspaceartifactstore`).
void bring_artifacts(ArmClient& arm, const BlobOptions& options, const std::string& job, const ArtifactTargets& to,
                     std::function<void(ArtifactOutcome)> done);

}  // namespace amlflow::runtime::azureml
