// The Azure ML backend's model registry and file fetches (issue 19 item 3): a `register
// model` step of a job's outputs registers a model version in the job's workspace
// (workspace_models.h), and files a job left in the workspace come back when their local
// copy is gone (datastore.h). Both run on the loop beside the attempts; stop_all (Ctrl-C)
// ends them as canceled.
#include <memory>

#include "runtime/azureml/azureml_backend.h"
#include "runtime/azureml/credentials.h"
#include "runtime/azureml/datastore.h"
#include "runtime/azureml/workspace_from_plan.h"
#include "runtime/azureml/workspace_models.h"

namespace amlflow::runtime::azureml {
using nlohmann::json;

ArmClient* AzureMlBackend::workspace_client(const json& compute, const std::string& plan_folder, std::string* error) {
    if (!connect(error)) return nullptr;
    auto ws = workspace_from_plan(options_.plan, compute, plan_folder, error);
    if (!ws) return nullptr;
    std::string key = ws->subscription + "/" + ws->resource_group + "/" + ws->name;
    auto& client = workspace_clients_[key];
    if (!client) client = std::make_unique<ArmClient>(*client_, *credential_, *endpoint_, *ws);
    return client.get();
}

std::uint64_t AzureMlBackend::track_call(std::function<void(const std::string&)> cancel) {
    std::uint64_t id = next_call_++;
    calls_[id] = std::move(cancel);
    return id;
}

bool AzureMlBackend::end_call(std::uint64_t id) { return calls_.erase(id) > 0; }

void AzureMlBackend::cancel_calls(const std::string& why) {
    auto calls = std::move(calls_);
    calls_.clear();
    for (auto& [id, cancel] : calls) cancel(why);
}

void AzureMlBackend::register_model(const ModelRegistration& model, std::function<void(PlaceModel)> done) {
    std::string error;
    ArmClient* arm = workspace_client(model.compute, model.plan_folder, &error);
    if (!arm) {
        loop_.after(std::chrono::milliseconds(0), [done, error] { done(PlaceModel{error, nullptr, "", false}); });
        return;
    }
    ModelVersionSpec spec;
    spec.name = model.name;
    spec.uri = job_artifact_uri(model.job, model.path);
    spec.type = model_type_of(model.local);
    spec.digest = model.digest;
    spec.job = model.job;
    spec.description = model.description;
    spec.tags = model.tags;
    std::uint64_t id = track_call([done](const std::string& why) { done(PlaceModel{why, nullptr, "", false}); });
    WorkspaceRef ws = arm->workspace();
    register_model_version(*arm, spec, [this, id, ws, done](std::optional<WorkspaceModelVersion> version, std::string error) {
        if (!end_call(id)) return;  // canceled meanwhile
        PlaceModel out;
        if (!version) {
            out.error = credential_ ? credential_->scrub(error) : error;
            return done(out);
        }
        out.existing = version->existing;
        out.record = {{"workspace", {{"subscription", ws.subscription}, {"resource_group", ws.resource_group}, {"name", ws.name}}},
                      {"name", version->name}, {"version", version->version}, {"id", version->id},
                      {"uri", version->uri}, {"type", version->type}};
        out.shown = "model '" + version->name + "' version " + version->version + " in workspace '" + ws.name + "'";
        done(out);
    });
}

void AzureMlBackend::fetch_files(const FilesFetch& fetch, std::function<void(std::string)> done) {
    std::string error;
    ArmClient* arm = workspace_client(fetch.compute, fetch.plan_folder, &error);
    if (!arm) {
        loop_.after(std::chrono::milliseconds(0), [done, error] { done(error); });
        return;
    }
    std::string uri = fetch.uri.empty() ? job_artifact_uri(fetch.job, fetch.path) : fetch.uri;
    std::uint64_t id = track_call(done);
    fetch_model_files(*arm, uri, fetch.to, options_.blob, [this, id, uri, done](TransferOutcome outcome) {
        if (!end_call(id)) return;
        if (outcome.ok) return done("");
        std::string why = "cannot fetch '" + uri + "': " + outcome.error;
        done(credential_ ? credential_->scrub(why) : why);
    });
}

}  // namespace amlflow::runtime::azureml
