// Models in an Azure ML workspace's registry (issue 19 item 3; NOTES "Model"): a version
// registered from a job's outputs, the versions and models listed, and a version's files
// fetched from the datastore its URI points at.
//
// Version numbers are the service's ("1", "2", ...). A registration reads the model's
// versions first: one whose tag `amlflow.sha256` holds the content's digest is the same
// model and is answered as it is (a re-run or --resume registers nothing new); otherwise the
// next number above every numeric version is PUT. The PUT is safe to repeat (same name,
// version and body); a version another client took meanwhile (409) makes it read again and
// take the next one.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/azureml/arm_client.h"
#include "runtime/azureml/blob_storage.h"

namespace amlflow::runtime::azureml {

// The tag that holds a version's content digest (sha256, as the local registry names it).
inline constexpr const char* kDigestTag = "amlflow.sha256";

struct ModelVersionSpec {
    std::string name;
    std::string uri;           // where its files are: azureml://jobs/<job>/outputs/artifacts/paths/...
    std::string type;          // custom_model, mlflow_model or triton_model
    std::string digest;        // the content's sha256, kept as the tag kDigestTag
    std::string job;           // the job that made it (lineage in the studio), or ""
    std::string description;
    std::map<std::string, std::string> tags;
};

struct WorkspaceModelVersion {
    std::string name, version, id, uri, type, description, job, created;
    std::map<std::string, std::string> tags;
    bool existing = false;     // register: that content was there already, nothing was PUT
};

struct WorkspaceModel {
    std::string name, description, latest, created;
    std::map<std::string, std::string> tags;
    int versions = 0;
};

// Whether the service takes `name` as a model's name: a letter or digit, then letters,
// digits, '_', '.' and '-', 255 at most.
bool valid_model_name(std::string_view name);
// The model type of a local copy: mlflow_model for a folder with an MLmodel file,
// triton_model for a model repository (a folder whose folders hold config.pbtxt), else
// custom_model.
std::string model_type_of(const std::filesystem::path& local);

// A version as the service answers it (GET or PUT of a version, an item of a list).
WorkspaceModelVersion model_version_from(const nlohmann::json& resource);

using VersionDone = std::function<void(std::optional<WorkspaceModelVersion>, std::string error)>;
void register_model_version(ArmClient& arm, const ModelVersionSpec& spec, VersionDone done);
// One version; `version` "" for the latest (the highest number).
void find_model_version(ArmClient& arm, const std::string& name, const std::string& version, VersionDone done);
// Every version of `name`, by number.
void list_model_versions(ArmClient& arm, const std::string& name,
                         std::function<void(std::optional<std::vector<WorkspaceModelVersion>>, std::string)> done);
// Every model of the workspace, by name, each with its count of versions, its latest, and its
// tags (the latest version's where the model has none of its own).
void list_workspace_models(ArmClient& arm,
                           std::function<void(std::optional<std::vector<WorkspaceModel>>, std::string)> done);
// The files at `uri` (a file or a folder) into `to` (a file or a folder), streamed.
void fetch_model_files(ArmClient& arm, const std::string& uri, const std::filesystem::path& to,
                       const BlobOptions& options, std::function<void(TransferOutcome)> done);

}  // namespace amlflow::runtime::azureml
