#include "runtime/azureml/job_artifacts.h"

#include <memory>

#include "runtime/azureml/datastore.h"

namespace amlflow::runtime::azureml {
namespace fs = std::filesystem;

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

// The channel files among the job's ./logs (amlflow-metrics/rank-<r>.jsonl) into the metrics
// folder, but those MLflow already gave; a file already there is left as it is.
std::string copy_metrics(const ArtifactTargets& to) {
    fs::path from = to.logs / "amlflow-metrics";
    std::error_code ec;
    if (to.metrics.empty() || !fs::is_directory(from, ec)) return "";
    fs::create_directories(to.metrics, ec);
    if (ec) return "its metrics: " + to.metrics.string() + ": " + ec.message();
    for (const fs::directory_entry& file : fs::directory_iterator(from, ec)) {
        std::string name = file.path().filename().string();
        if (!file.is_regular_file(ec) || to.metrics_covered.count(name)) continue;
        fs::copy_file(file.path(), to.metrics / name, fs::copy_options::skip_existing, ec);
        if (ec) return "its metrics: " + name + ": " + ec.message();
    }
    return ec ? "its metrics: " + from.string() + ": " + ec.message() : "";
}

// Logs and metrics, after the outputs. A job that wrote no ./logs has none to bring: an
// empty prefix is no error.
void fetch_logs(const std::shared_ptr<Fetch>& fetch) {
    if (fetch->to.logs.empty()) return end(fetch);
    fetch->storage->download(fetch->prefix + "/logs", fetch->to.logs, [fetch](TransferOutcome logs) {
        if (!logs.ok) {
            fetch->outcome.error = "its logs: " + logs.error;
            return end(fetch);
        }
        fetch->outcome.logs = logs.files_sent;
        fetch->outcome.error = copy_metrics(fetch->to);
        end(fetch);
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
    open_datastore(arm, kArtifactDatastore, options, [fetch](std::shared_ptr<BlobStorage> storage, std::string error) {
        if (!storage) {
            fetch->outcome.error = error;
            return end(fetch);
        }
        fetch->storage = std::move(storage);
        fetch_all(fetch);
    });
}

}  // namespace amlflow::runtime::azureml
