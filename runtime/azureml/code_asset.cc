#include "runtime/azureml/code_asset.h"

#include <fstream>
#include <memory>

#include "runtime/azureml/code_hash.h"

namespace amlflow::runtime::azureml {
namespace fs = std::filesystem;

namespace {

struct CodeJob {
    ArmClient& arm;
    CodeRequest request;
    CodeSnapshot snapshot;
    CodeOutcome outcome;
    std::function<void(CodeOutcome)> done;
    std::unique_ptr<BlobStorage> storage;
};

void finish(const std::shared_ptr<CodeJob>& job, const std::string& error) {
    job->outcome.error = error;
    if (!error.empty()) job->outcome.id.clear();
    auto done = std::move(job->done);
    done(job->outcome);
}

fs::path record_of(const CodeJob& job) { return job.request.upload_records / (job.snapshot.hash + ".url"); }

void create_version(const std::shared_ptr<CodeJob>& job, const std::string& blob_uri) {
    const std::string& hash = job->snapshot.hash;
    nlohmann::json body = {{"properties",
                            {{"codeUri", blob_uri},
                             {"isAnonymous", true},
                             {"tags", {{kCreatedByTag, kCreatedByAmlflow}}},
                             {"properties", {{"hash_sha256", hash}, {"hash_version", kCodeHashVersion}}}}}};
    job->arm.call("PUT", code_version_path(job->arm.workspace(), hash, "1"), body, [job, blob_uri](ArmAnswer answer) {
        if (!answer.ok()) return finish(job, "cannot create the code version: " + answer.error);
        std::error_code ignored;
        fs::remove(record_of(*job), ignored);
        job->outcome.uri = blob_uri;
        job->outcome.id = answer.body.is_object() && answer.body.contains("id")
                              ? answer.body["id"].get<std::string>()
                              : job->arm.id("/codes/" + job->snapshot.hash + "/versions/1");
        finish(job, "");
    });
}

void upload(const std::shared_ptr<CodeJob>& job, BlobContainer container, const std::string& blob_uri) {
    std::vector<UploadItem> items;
    for (const CodeFile& file : job->snapshot.files) items.push_back({file.absolute, file.relative});
    job->storage = std::make_unique<BlobStorage>(job->arm.client(), std::move(container), job->request.blob_options);
    job->outcome.uploaded = true;
    job->storage->upload(items, [job, blob_uri](TransferOutcome transfer) {
        job->outcome.transfer = transfer;
        if (!transfer.ok) return finish(job, "cannot upload the source: " + transfer.error);
        create_version(job, blob_uri);
    });
}

void start_upload(const std::shared_ptr<CodeJob>& job) {
    nlohmann::json body = {{"pendingUploadType", "TemporaryBlobReference"}};
    std::string path = code_pending_upload_path(job->arm.workspace(), job->snapshot.hash, "1");
    job->arm.call("POST", path, body, [job](ArmAnswer answer) {
        if (!answer.ok()) return finish(job, "cannot start the source upload: " + answer.error);
        const auto& ref = answer.body.value("blobReferenceForConsumption", nlohmann::json::object());
        std::string blob_uri = ref.value("blobUri", "");
        std::string sas_uri = ref.value("credential", nlohmann::json::object()).value("sasUri", "");
        std::string error;
        auto container = container_from_sas_url(sas_uri, &error);
        if (!container || blob_uri.empty()) return finish(job, "the service's upload answer has no usable sas url: " + error);
        // A folder handed out before for this hash, in the same container: go on there.
        std::ifstream in(record_of(*job));
        std::string earlier;
        std::getline(in, earlier);
        std::string fresh_error;
        auto old = earlier.empty() ? std::nullopt : container_from_sas_url(earlier + "?" + container->sas, &fresh_error);
        if (old && old->account_url == container->account_url && old->container == container->container) {
            return upload(job, *old, earlier);
        }
        std::error_code ignored;
        fs::create_directories(job->request.upload_records, ignored);
        std::ofstream(record_of(*job)) << redacted_url(blob_uri) << "\n";
        upload(job, *container, blob_uri);
    }, kArmApiVersionCodeHash);
}

}  // namespace

void ensure_code(ArmClient& arm, const CodeRequest& request, std::function<void(CodeOutcome)> done) {
    auto job = std::make_shared<CodeJob>(CodeJob{arm, request, {}, {}, std::move(done), nullptr});
    std::string error;
    auto snapshot = hash_code_folder(request.folder, request.leave_out, &error);
    if (!snapshot) {
        arm.client().loop().after(std::chrono::milliseconds(0), [job, error] { finish(job, error); });
        return;
    }
    job->snapshot = std::move(*snapshot);
    job->outcome.hash = job->snapshot.hash;
    std::string query = "hash=" + job->snapshot.hash + "&hashVersion=" + kCodeHashVersion;
    arm.call("GET", code_versions_path(arm.workspace(), "amlflow"), nullptr, [job](ArmAnswer answer) {
        if (!answer.ok()) return finish(job, "cannot look the source up by its hash: " + answer.error);
        const auto& found = answer.body.value("value", nlohmann::json::array());
        if (!found.empty() && found[0].is_object() && found[0].contains("id")) {
            job->outcome.id = found[0]["id"].get<std::string>();
            job->outcome.uri = found[0].value("properties", nlohmann::json::object()).value("codeUri", "");
            return finish(job, "");
        }
        start_upload(job);
    }, kArmApiVersionCodeHash, query);
}

}  // namespace amlflow::runtime::azureml
