// What a finished job leaves in the workspace's artifact store, brought into the local run
// store (issue 18 items 5 and 8): its ./outputs into the step's outputs folder (a completed
// job only), its ./logs into the step's logs folder, and the metrics files the ranks wrote
// under ./logs/amlflow-metrics (command_job.h: AMLFLOW_METRICS) into the attempt's metrics
// folder, where the executor reads them as it reads a local attempt's.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "runtime/azureml/arm_client.h"
#include "runtime/azureml/blob_storage.h"

namespace amlflow::runtime::azureml {

struct ArtifactTargets {
    std::filesystem::path outputs;   // empty: the outputs are not wanted (a failed job)
    std::filesystem::path logs;
    std::filesystem::path metrics;
};

struct ArtifactOutcome {
    std::string error;               // "" when everything came
    int outputs = 0, logs = 0;       // files brought back
};

// The job's artifacts (`ExperimentRun/dcid.<job>/...` on `workspaceartifactstore`).
void bring_artifacts(ArmClient& arm, const BlobOptions& options, const std::string& job, const ArtifactTargets& to,
                     std::function<void(ArtifactOutcome)> done);

}  // namespace amlflow::runtime::azureml
