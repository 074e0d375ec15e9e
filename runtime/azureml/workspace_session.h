// One workspace spoken to from a command that is not a run (`amlflow models list
// --workspace`, `models download`, `gc --workspace`): its own event loop, HTTP client, credential chain and
// resource-manager client, and synchronous calls that run the loop until their answer came.
// The same credentials and endpoint as a run (credentials.h, AMLFLOW_ARM_ENDPOINT); errors
// are one sentence with no secret in it (an authentication failure lists what was tried).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/azureml/arm_client.h"
#include "runtime/azureml/blob_storage.h"
#include "runtime/azureml/workspace_models.h"

namespace amlflow::runtime::azureml {

class WorkspaceSession {
public:
    // nullptr with *error when the resource manager's endpoint is misconfigured.
    static std::unique_ptr<WorkspaceSession> open(const WorkspaceRef& workspace, std::string* error);
    ~WorkspaceSession();

    std::optional<std::vector<WorkspaceModel>> models(std::string* error);
    // `version` "" for the latest.
    std::optional<WorkspaceModelVersion> model_version(const std::string& name, const std::string& version,
                                                       std::string* error);
    // The files at `uri` into `to` (a file or a folder: as the URI names one), streamed.
    TransferOutcome fetch(const std::string& uri, const std::filesystem::path& to);

    const WorkspaceRef& workspace() const { return workspace_; }
    // For calls of other kinds (workspace_gc.h): the client, its loop, and the credential's
    // scrub for their errors.
    ArmClient& arm() { return *arm_; }
    EventLoop& loop() { return *loop_; }
    std::string scrub(const std::string& text) const;

private:
    WorkspaceSession(WorkspaceRef workspace, ArmEndpoint endpoint);

    WorkspaceRef workspace_;
    std::unique_ptr<EventLoop> loop_;
    std::unique_ptr<HttpClient> http_;
    std::unique_ptr<RetryingClient> client_;
    std::unique_ptr<DefaultCredential> credential_;
    std::unique_ptr<ArmClient> arm_;
};

// A workspace as a run store's model record names it ({"subscription", "resource_group",
// "name"}); nullopt when a field is missing.
std::optional<WorkspaceRef> workspace_ref_from(const nlohmann::json& fields);

}  // namespace amlflow::runtime::azureml
