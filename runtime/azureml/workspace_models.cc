#include "runtime/azureml/workspace_models.h"

#include <algorithm>
#include <cctype>
#include <memory>

#include "runtime/azureml/arm_pages.h"
#include "runtime/azureml/datastore.h"

namespace amlflow::runtime::azureml {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kVersionTries = 3;

std::string models_path(const WorkspaceRef& ws) { return workspace_path(ws) + "/models"; }

std::string model_path(const WorkspaceRef& ws, const std::string& name) {
    return models_path(ws) + "/" + percent_encode(name);
}

std::map<std::string, std::string> text_map(const json& value) {
    std::map<std::string, std::string> out;
    if (!value.is_object()) return out;
    for (auto it = value.begin(); it != value.end(); ++it) {
        out[it.key()] = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
    }
    return out;
}

std::string text(const json& object, const char* key) {
    auto found = object.find(key);
    return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

// A version's number, or -1 for a version named otherwise ("v2", "latest-run").
long long number_of(const std::string& version) {
    if (version.empty() || version.size() > 15 || version.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stoll(version);
}

json version_body(const ModelVersionSpec& spec) {
    json tags = json::object();
    for (const auto& [key, value] : spec.tags) tags[key] = value;
    tags[kDigestTag] = spec.digest;
    json properties = {{"modelUri", spec.uri}, {"modelType", spec.type}, {"tags", tags}};
    if (!spec.description.empty()) properties["description"] = spec.description;
    if (!spec.job.empty()) properties["jobName"] = spec.job;
    return {{"properties", properties}};
}

void put_next(ArmClient& arm, const ModelVersionSpec& spec, int tries, VersionDone done);

// The versions read, the same content found or the next number PUT.
void choose_version(ArmClient& arm, const ModelVersionSpec& spec, int tries, VersionDone done,
                    const std::vector<WorkspaceModelVersion>& versions) {
    long long highest = 0;
    const WorkspaceModelVersion* same = nullptr;
    for (const WorkspaceModelVersion& version : versions) {
        highest = std::max(highest, number_of(version.version));
        auto digest = version.tags.find(kDigestTag);
        if (digest != version.tags.end() && digest->second == spec.digest &&
            (!same || number_of(version.version) < number_of(same->version))) {
            same = &version;
        }
    }
    if (same) {
        WorkspaceModelVersion found = *same;
        found.existing = true;
        return done(found, "");
    }
    std::string number = std::to_string(highest + 1);
    ArmClient* client = &arm;
    arm.call("PUT", model_version_path(arm.workspace(), spec.name, number), version_body(spec),
             [client, spec, tries, done, number](ArmAnswer answer) {
                 if (answer.status == 409 && tries + 1 < kVersionTries) return put_next(*client, spec, tries + 1, done);
                 if (!answer.ok()) {
                     return done(std::nullopt, "cannot register model '" + spec.name + "' version " + number +
                                                   " in the workspace: " + answer.error);
                 }
                 WorkspaceModelVersion made = model_version_from(answer.body);
                 if (made.name.empty()) made.name = spec.name;
                 if (made.version.empty()) made.version = number;
                 done(made, "");
             });
}

void put_next(ArmClient& arm, const ModelVersionSpec& spec, int tries, VersionDone done) {
    ArmClient* client = &arm;
    list_model_versions(arm, spec.name, [client, spec, tries, done](auto versions, std::string error) {
        if (!versions) return done(std::nullopt, "cannot read the versions of model '" + spec.name + "': " + error);
        choose_version(*client, spec, tries, done, *versions);
    });
}

}  // namespace

bool valid_model_name(std::string_view name) {
    if (name.empty() || name.size() > 255 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
    });
}

std::string model_type_of(const fs::path& local) {
    std::error_code ec;
    if (!fs::is_directory(local, ec)) return "custom_model";
    if (fs::is_regular_file(local / "MLmodel", ec)) return "mlflow_model";
    for (const fs::directory_entry& entry : fs::directory_iterator(local, ec)) {
        if (entry.is_directory(ec) && fs::is_regular_file(entry.path() / "config.pbtxt", ec)) return "triton_model";
    }
    return "custom_model";
}

WorkspaceModelVersion model_version_from(const json& resource) {
    WorkspaceModelVersion version;
    if (!resource.is_object()) return version;
    json properties = resource.value("properties", json::object());
    version.version = text(resource, "name");
    version.id = text(resource, "id");
    // The model's name is the id's segment before /versions/.
    size_t at = version.id.rfind("/versions/");
    if (at != std::string::npos) {
        size_t from = version.id.rfind('/', at - 1);
        if (from != std::string::npos) version.name = version.id.substr(from + 1, at - from - 1);
    }
    version.uri = text(properties, "modelUri");
    version.type = text(properties, "modelType");
    version.description = text(properties, "description");
    version.job = text(properties, "jobName");
    version.tags = text_map(properties.value("tags", json::object()));
    version.created = text(resource.value("systemData", json::object()), "createdAt");
    return version;
}

void register_model_version(ArmClient& arm, const ModelVersionSpec& spec, VersionDone done) {
    if (!valid_model_name(spec.name)) {
        std::string error = "'" + spec.name + "' is not a model name Azure ML takes: a letter or digit first, then " +
                            "letters, digits, '_', '.' and '-' (255 at most); give the register step a `name`";
        arm.client().loop().after(std::chrono::milliseconds(0), [done, error] { done(std::nullopt, error); });
        return;
    }
    put_next(arm, spec, 0, std::move(done));
}

void find_model_version(ArmClient& arm, const std::string& name, const std::string& version, VersionDone done) {
    if (!version.empty()) {
        arm.call("GET", model_version_path(arm.workspace(), name, version), nullptr, [name, version, done](ArmAnswer answer) {
            if (!answer.ok()) return done(std::nullopt, "cannot find model '" + name + "' version " + version + ": " + answer.error);
            WorkspaceModelVersion found = model_version_from(answer.body);
            if (found.name.empty()) found.name = name;
            done(found, "");
        });
        return;
    }
    list_model_versions(arm, name, [name, done](auto versions, std::string error) {
        if (!versions) return done(std::nullopt, "cannot read the versions of model '" + name + "': " + error);
        if (versions->empty()) return done(std::nullopt, "the workspace has no model '" + name + "'");
        done(versions->back(), "");
    });
}

void list_model_versions(ArmClient& arm, const std::string& name,
                         std::function<void(std::optional<std::vector<WorkspaceModelVersion>>, std::string)> done) {
    list_all(arm, model_path(arm.workspace(), name) + "/versions", [name, done](auto items, std::string error) {
        if (!items) return done(std::nullopt, error);
        std::vector<WorkspaceModelVersion> versions;
        for (const json& item : *items) {
            versions.push_back(model_version_from(item));
            if (versions.back().name.empty()) versions.back().name = name;
        }
        std::stable_sort(versions.begin(), versions.end(), [](const auto& a, const auto& b) {
            long long x = number_of(a.version), y = number_of(b.version);
            return x != y ? x < y : a.version < b.version;
        });
        done(std::move(versions), "");
    });
}

void list_workspace_models(ArmClient& arm,
                           std::function<void(std::optional<std::vector<WorkspaceModel>>, std::string)> done) {
    ArmClient* client = &arm;
    list_all(arm, models_path(arm.workspace()), [client, done](auto items, std::string error) {
        if (!items) return done(std::nullopt, "cannot list the workspace's models: " + error);
        struct Gather {
            std::vector<WorkspaceModel> models;
            size_t left = 0;
            std::string error;
        };
        auto gather = std::make_shared<Gather>();
        for (const json& item : *items) {
            WorkspaceModel model;
            json properties = item.value("properties", json::object());
            model.name = text(item, "name");
            model.description = text(properties, "description");
            model.latest = text(properties, "latestVersion");
            model.tags = text_map(properties.value("tags", json::object()));
            model.created = text(item.value("systemData", json::object()), "createdAt");
            gather->models.push_back(model);
        }
        std::sort(gather->models.begin(), gather->models.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
        gather->left = gather->models.size();
        if (gather->left == 0) return done(std::move(gather->models), "");
        // Each model's versions, all asked at once: their count and the latest number.
        for (size_t i = 0; i < gather->models.size(); ++i) {
            list_model_versions(*client, gather->models[i].name, [gather, i, done](auto versions, std::string error) {
                if (!versions && gather->error.empty()) gather->error = error;
                if (versions) {
                    gather->models[i].versions = static_cast<int>(versions->size());
                    if (!versions->empty()) gather->models[i].latest = versions->back().version;
                    // A model's own tags, else its latest version's (what amlflow tags).
                    if (gather->models[i].tags.empty() && !versions->empty()) gather->models[i].tags = versions->back().tags;
                }
                if (--gather->left > 0) return;
                if (!gather->error.empty()) return done(std::nullopt, "cannot list the workspace's models: " + gather->error);
                done(std::move(gather->models), "");
            });
        }
    });
}

void fetch_model_files(ArmClient& arm, const std::string& uri, const fs::path& to, const BlobOptions& options,
                       std::function<void(TransferOutcome)> done) {
    std::string error;
    auto where = datastore_path_of(uri, &error);
    auto fail = [&arm, done](std::string why) {
        TransferOutcome failed;
        failed.ok = false;
        failed.error = std::move(why);
        arm.client().loop().after(std::chrono::milliseconds(0), [done, failed] { done(failed); });
    };
    if (!where) return fail(error);
    if (where->path.empty()) return fail("'" + uri + "' names a whole datastore, not a model's files");
    open_datastore(arm, where->datastore, options, [where = *where, to, done](std::shared_ptr<BlobStorage> storage, std::string error) {
        if (!storage) {
            TransferOutcome failed;
            failed.ok = false;
            failed.error = error;
            return done(failed);
        }
        storage->fetch(where.path, to, [storage, done](TransferOutcome outcome) { done(outcome); });
    });
}

}  // namespace amlflow::runtime::azureml
