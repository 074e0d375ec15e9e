#include "runtime/azureml/workspace_session.h"

#include "runtime/azureml/credentials.h"

namespace amlflow::runtime::azureml {

std::unique_ptr<WorkspaceSession> WorkspaceSession::open(const WorkspaceRef& workspace, std::string* error) {
    auto endpoint = ArmEndpoint::from_environment(error);
    if (!endpoint) return nullptr;
    return std::unique_ptr<WorkspaceSession>(new WorkspaceSession(workspace, *endpoint));
}

WorkspaceSession::WorkspaceSession(WorkspaceRef workspace, ArmEndpoint endpoint)
    : workspace_(std::move(workspace)), loop_(std::make_unique<EventLoop>()) {
    http_ = std::make_unique<HttpClient>(*loop_);
    client_ = std::make_unique<RetryingClient>(*http_);
    credential_ = std::make_unique<DefaultCredential>(*client_, CredentialOptions::from_process_environment());
    arm_ = std::make_unique<ArmClient>(*client_, *credential_, endpoint, workspace_);
}

// Clients before the loop they watch.
WorkspaceSession::~WorkspaceSession() {
    arm_.reset();
    credential_.reset();
    client_.reset();
    http_.reset();
}

std::string WorkspaceSession::scrub(const std::string& text) const { return credential_->scrub(text); }

std::optional<std::vector<WorkspaceModel>> WorkspaceSession::models(std::string* error) {
    std::optional<std::optional<std::vector<WorkspaceModel>>> out;
    list_workspace_models(*arm_, [&](std::optional<std::vector<WorkspaceModel>> models, std::string why) {
        *error = scrub(why);
        out = std::move(models);
    });
    loop_->run_until([&] { return out.has_value(); });
    return *out;
}

std::optional<WorkspaceModelVersion> WorkspaceSession::model_version(const std::string& name, const std::string& version,
                                                                     std::string* error) {
    std::optional<std::optional<WorkspaceModelVersion>> out;
    find_model_version(*arm_, name, version, [&](std::optional<WorkspaceModelVersion> found, std::string why) {
        *error = scrub(why);
        out = std::move(found);
    });
    loop_->run_until([&] { return out.has_value(); });
    return *out;
}

TransferOutcome WorkspaceSession::fetch(const std::string& uri, const std::filesystem::path& to) {
    std::optional<TransferOutcome> out;
    fetch_model_files(*arm_, uri, to, BlobOptions{}, [&](TransferOutcome outcome) {
        outcome.error = scrub(outcome.error);
        out = outcome;
    });
    loop_->run_until([&] { return out.has_value(); });
    return *out;
}

std::optional<WorkspaceRef> workspace_ref_from(const nlohmann::json& fields) {
    if (!fields.is_object()) return std::nullopt;
    WorkspaceRef ref{fields.value("subscription", ""), fields.value("resource_group", ""), fields.value("name", "")};
    if (ref.subscription.empty() || ref.resource_group.empty() || ref.name.empty()) return std::nullopt;
    return ref;
}

}  // namespace amlflow::runtime::azureml
