#include "runtime/azureml/job_artifacts.h"

#include <memory>

#include "runtime/azureml/blob_auth.h"

namespace amlflow::runtime::azureml {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Fetch {
    std::shared_ptr<BlobStorage> storage;
    std::string prefix;  // ExperimentRun/dcid.<job>
    ArtifactTargets to;
    ArtifactOutcome outcome;
    std::function<void(ArtifactOutcome)> done;
};

void end(const std::shared_ptr<Fetch>& fetch) {
    auto done = std::move(fetch->done);
    done(fetch->outcome);
}

// Logs and metrics, then (a completed job) the outputs. A job that wrote no ./logs has none
// to bring: an empty prefix is no error.
void fetch_logs(const std::shared_ptr<Fetch>& fetch) {
    fetch->storage->download(fetch->prefix + "/logs", fetch->to.logs, [fetch](TransferOutcome logs) {
        if (!logs.ok) {
            fetch->outcome.error = "its logs: " + logs.error;
            return end(fetch);
        }
        fetch->outcome.logs = logs.files_sent;
        fetch->storage->download(fetch->prefix + "/logs/amlflow-metrics", fetch->to.metrics, [fetch](TransferOutcome m) {
            if (!m.ok) fetch->outcome.error = "its metrics: " + m.error;
            end(fetch);
        });
    });
}

void fetch_all(const std::shared_ptr<Fetch>& fetch) {
    if (fetch->to.outputs.empty()) return fetch_logs(fetch);
    fetch->storage->download(fetch->prefix + "/outputs", fetch->to.outputs, [fetch](TransferOutcome outputs) {
        if (!outputs.ok) {
            fetch->outcome.error = "its outputs: " + outputs.error;
            return end(fetch);
        }
        fetch->outcome.outputs = outputs.files_sent;
        fetch_logs(fetch);
    });
}

}  // namespace

void bring_artifacts(ArmClient& arm, const BlobOptions& options, const std::string& job, const ArtifactTargets& to,
                     std::function<void(ArtifactOutcome)> done) {
    auto fetch = std::make_shared<Fetch>();
    fetch->prefix = "ExperimentRun/dcid." + job;
    fetch->to = to;
    fetch->done = std::move(done);
    std::string path = datastores_path(arm.workspace()) + "/workspaceartifactstore";
    ArmClient* client = &arm;
    arm.call("GET", path, nullptr, [client, options, path, fetch](ArmAnswer answer) {
        if (!answer.ok()) {
            fetch->outcome.error = answer.error;
            return end(fetch);
        }
        json fields = answer.body.value("properties", json::object());
        BlobContainer container;
        container.account = fields.value("accountName", "");
        container.container = fields.value("containerName", "");
        container.account_url = datastore_account_url(fields.value("protocol", "https"), container.account,
                                                       fields.value("endpoint", "core.windows.net"));
        client->call("POST", path + "/listSecrets", json::object(), [client, options, container, fetch](ArmAnswer secrets) mutable {
            if (!secrets.ok()) {
                fetch->outcome.error = secrets.error;
                return end(fetch);
            }
            container.key = secrets.body.value("key", "");
            container.sas = secrets.body.value("sasToken", "");
            if (!container.sas.empty() && container.sas.front() == '?') container.sas.erase(0, 1);
            fetch->storage = std::make_shared<BlobStorage>(client->client(), container, options);
            fetch_all(fetch);
        }, kArmApiVersion, {}, true);
    });
}

}  // namespace amlflow::runtime::azureml
