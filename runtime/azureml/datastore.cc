#include "runtime/azureml/datastore.h"

#include <regex>

#include "runtime/azureml/blob_auth.h"

namespace amlflow::runtime::azureml {
using nlohmann::json;

std::string job_artifact_uri(const std::string& job, const std::string& path) {
    return "azureml://jobs/" + job + "/outputs/artifacts/paths/" + path;
}

namespace {

// A path inside a datastore: no "..", "." or empty segment, no leading '/', none at the end.
std::optional<std::string> clean_path(const std::string& path) {
    std::string out;
    size_t begin = 0;
    while (begin <= path.size()) {
        size_t end = path.find('/', begin);
        if (end == std::string::npos) end = path.size();
        std::string part = path.substr(begin, end - begin);
        if (part == "." || part == "..") return std::nullopt;
        if (!part.empty()) out += (out.empty() ? "" : "/") + part;
        begin = end + 1;
    }
    return out;
}

}  // namespace

std::optional<DatastorePath> datastore_path_of(const std::string& uri, std::string* error) {
    static const std::regex kJob(R"(^azureml://jobs/([A-Za-z0-9][A-Za-z0-9_-]*)/outputs/artifacts/paths/(.*)$)",
                                 std::regex::icase);
    static const std::regex kStore(R"(^azureml://(?:subscriptions/[^/]+/resourcegroups/[^/]+/workspaces/[^/]+/)?datastores/([A-Za-z0-9_]+)/paths/(.*)$)",
                                   std::regex::icase);
    std::smatch match;
    DatastorePath where;
    std::string rest;
    if (std::regex_match(uri, match, kJob)) {
        where.datastore = kArtifactDatastore;
        rest = "ExperimentRun/dcid." + match[1].str() + "/" + match[2].str();
    } else if (std::regex_match(uri, match, kStore)) {
        where.datastore = match[1].str();
        rest = match[2].str();
    } else {
        *error = "'" + uri + "' is not a datastore path amlflow reads (azureml://jobs/<job>/outputs/artifacts/paths/..." +
                 " or azureml://datastores/<name>/paths/...)";
        return std::nullopt;
    }
    auto path = clean_path(rest);
    if (!path) {
        *error = "'" + uri + "' has a '.' or '..' in its path";
        return std::nullopt;
    }
    where.path = *path;
    return where;
}

void open_datastore(ArmClient& arm, const std::string& name, const BlobOptions& options,
                    std::function<void(std::shared_ptr<BlobStorage>, std::string)> done) {
    std::string path = datastores_path(arm.workspace()) + "/" + percent_encode(name);
    ArmClient* client = &arm;
    arm.call("GET", path, nullptr, [client, options, path, name, done](ArmAnswer answer) {
        if (!answer.ok()) return done(nullptr, "cannot read datastore '" + name + "': " + answer.error);
        json fields = answer.body.value("properties", json::object());
        BlobContainer container;
        container.account = fields.value("accountName", "");
        container.container = fields.value("containerName", "");
        container.account_url = datastore_account_url(fields.value("protocol", "https"), container.account,
                                                      fields.value("endpoint", "core.windows.net"));
        if (fields.value("datastoreType", "AzureBlob") != "AzureBlob" || container.container.empty()) {
            return done(nullptr, "datastore '" + name + "' is not a blob container amlflow can read");
        }
        client->call("POST", path + "/listSecrets", json::object(), [client, options, container, name, done](ArmAnswer secrets) mutable {
            if (!secrets.ok()) return done(nullptr, "cannot read the secrets of datastore '" + name + "': " + secrets.error);
            container.key = secrets.body.value("key", "");
            container.sas = secrets.body.value("sasToken", "");
            if (!container.sas.empty() && container.sas.front() == '?') container.sas.erase(0, 1);
            done(std::make_shared<BlobStorage>(client->client(), container, options), "");
        }, kArmApiVersion, {}, true);
    });
}

}  // namespace amlflow::runtime::azureml
