// A datastore of the workspace as blob storage, and the `azureml://` URIs that name places in
// datastores (NOTES "Logs and outputs"): a job's artifacts (its ./outputs and ./logs) live on
// `workspaceartifactstore` under `ExperimentRun/dcid.<job>/`, and a registered model's URI
// points there or at any datastore's path. The datastore's account and container come from
// its resource, its account key or SAS from listSecrets (a POST, retried: reading a secret
// twice changes nothing).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "runtime/azureml/arm_client.h"
#include "runtime/azureml/blob_storage.h"

namespace amlflow::runtime::azureml {

// The datastore that holds every job's artifacts.
inline constexpr const char* kArtifactDatastore = "workspaceartifactstore";

// A place in a datastore: its name and the blob path inside its container ("" for all).
struct DatastorePath {
    std::string datastore;
    std::string path;
};

// `path` (below the job's artifacts: "outputs/model.pt") as the URI the service takes for
// it: azureml://jobs/<job>/outputs/artifacts/paths/<path>.
std::string job_artifact_uri(const std::string& job, const std::string& path);

// Where an `azureml://` URI points: azureml://jobs/<job>/outputs/artifacts/paths/<p> (the
// job's artifacts), azureml://datastores/<ds>/paths/<p>, or the same with the workspace's
// `subscriptions/<s>/resourcegroups/<g>/workspaces/<w>/` before `datastores`. Any other form
// (another output of a job, a registry, a plain https URL) gives nullopt with *error.
std::optional<DatastorePath> datastore_path_of(const std::string& uri, std::string* error);

// The datastore `name` of the workspace `arm` speaks to, ready to read: `done` gets the
// storage (its RetryingClient is arm's) or an error sentence.
void open_datastore(ArmClient& arm, const std::string& name, const BlobOptions& options,
                    std::function<void(std::shared_ptr<BlobStorage>, std::string error)> done);

}  // namespace amlflow::runtime::azureml
