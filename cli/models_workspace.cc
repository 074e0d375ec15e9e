#include "cli/models_workspace.h"

#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/table_format.h"
#include "cli/workspace_option.h"
#include "runtime/azureml/workspace_session.h"
#include "runtime/core/artifacts.h"

namespace amlflow::cli {

namespace fs = std::filesystem;
namespace az = runtime::azureml;
using nlohmann::json;

namespace {

std::unique_ptr<az::WorkspaceSession> open_session(const std::string& file) {
    std::string error;
    auto workspace = choose_workspace(file, &error);
    auto session = workspace ? az::WorkspaceSession::open(*workspace, &error) : nullptr;
    if (!session) std::cerr << "amlflow: error: " << error << "\n";
    return session;
}

// "2024-05-01T10:11:12.345Z" as "2024-05-01 10:11:12".
std::string shown_time(std::string iso) {
    if (iso.size() >= 19) iso = iso.substr(0, 19);
    if (iso.size() > 10 && iso[10] == 'T') iso[10] = ' ';
    return iso.empty() ? "-" : iso;
}

// A user's tags, not amlflow's own (amlflow.sha256, amlflow.run, ...).
std::string shown_tags(const std::map<std::string, std::string>& tags) {
    std::string out;
    for (const auto& [key, value] : tags) {
        if (key.rfind("amlflow.", 0) == 0) continue;
        out += (out.empty() ? "" : " ") + key + "=" + value;
    }
    return out;
}

// The last segment of a URI's path: the name a file model keeps.
std::string last_segment(std::string uri) {
    while (!uri.empty() && uri.back() == '/') uri.pop_back();
    return uri.substr(uri.rfind('/') + 1);
}

}  // namespace

int list_workspace_models(const std::string& file, const std::string& name) {
    auto session = open_session(file);
    if (!session) return 1;
    std::string error;
    auto models = session->models(&error);
    if (!models) {
        std::cerr << "amlflow: error: " << error << "\n";
        return 1;
    }
    std::string where = "workspace '" + session->workspace().name + "'";
    std::vector<az::WorkspaceModel> shown;
    for (const az::WorkspaceModel& model : *models) {
        if (name.empty() || model.name == name) shown.push_back(model);
    }
    if (shown.empty()) {
        std::cout << (name.empty() ? "no models in " + where + "\n" : "no model '" + name + "' in " + where + "\n");
        return 0;
    }
    std::cout << "models in " << where << " (resource group '" << session->workspace().resource_group << "')\n";
    std::cout << pad("model", 24) << pad("versions", 10) << pad("latest", 8) << pad("created", 21) << "tags\n";
    for (const az::WorkspaceModel& model : shown) {
        std::cout << pad(model.name, 24) << pad(std::to_string(model.versions), 10) << pad(model.latest, 8)
                  << pad(shown_time(model.created), 21) << shown_tags(model.tags) << "\n";
    }
    return 0;
}

int download_workspace_model(const std::string& file, const std::string& reference, const std::string& to,
                             bool overwrite) {
    size_t colon = reference.rfind(':');
    std::string name = reference.substr(0, colon), version = colon == std::string::npos ? "" : reference.substr(colon + 1);
    if (name.empty() || (colon != std::string::npos && version.empty())) {
        std::cerr << "amlflow: error: '" << reference << "' is not NAME or NAME:VERSION\n";
        return 1;
    }
    auto session = open_session(file);
    if (!session) return 1;
    std::string error;
    auto found = session->model_version(name, version, &error);
    if (!found) {
        std::cerr << "amlflow: error: " << error << "\n";
        return 1;
    }
    // Fetched beside, then copied in: an existing file is replaced only with --overwrite.
    fs::path staging = fs::path(to) / ".amlflow-fetch";
    fs::path fetched = staging / last_segment(found->uri);
    az::TransferOutcome outcome = session->fetch(found->uri, fetched);
    if (!outcome.ok) {
        std::cerr << "amlflow: error: cannot fetch model '" << name << "' version " << found->version << " ("
                  << found->uri << "): " << outcome.error << "\n";
        return 1;
    }
    std::error_code ec;
    bool is_file = fs::is_regular_file(fetched, ec);
    fs::path target = is_file ? fs::path(to) / fetched.filename() : fs::path(to);
    bool placed = is_file && !fs::exists(target, ec) && (fs::rename(fetched, target, ec), !ec);
    if (!placed && !runtime::copy_confined(fetched, target, overwrite, &error, "pass --overwrite to replace it")) {
        fs::remove_all(staging, ec);
        std::cerr << "amlflow: error: " << error << "\n";
        return 1;
    }
    fs::remove_all(staging, ec);
    std::cout << "model " << name << " version " << found->version << " (workspace '" << session->workspace().name
              << "') -> " << target.string() << "\n";
    return 0;
}

bool restore_from_workspace(const runtime::ModelRecord& model, std::string* error) {
    json record = json::parse(model.workspace_json.empty() ? "null" : model.workspace_json, nullptr, false);
    auto workspace = record.is_object() ? az::workspace_ref_from(record.value("workspace", json())) : std::nullopt;
    std::string uri = record.is_object() ? record.value("uri", "") : "";
    if (!workspace || uri.empty()) {
        *error = "its copy in the registry is gone (" + model.path.string() + ") and it was registered in no workspace";
        return false;
    }
    auto session = az::WorkspaceSession::open(*workspace, error);
    if (!session) return false;
    std::cerr << "amlflow: the registry's copy is gone; fetching model '" << model.name << "' version "
              << record.value("version", "") << " from workspace '" << workspace->name << "'\n";
    az::TransferOutcome outcome = session->fetch(uri, model.path);
    if (!outcome.ok) {
        *error = "its copy in the registry is gone and fetching it from workspace '" + workspace->name + "' failed: " +
                 outcome.error;
        return false;
    }
    auto digest = runtime::content_digest(model.path, error);
    if (!digest || digest->hash != model.hash) {
        std::error_code ec;
        fs::remove_all(model.path, ec);
        *error = "the workspace's copy (" + uri + ") is not the content registered here (sha256 " + model.hash + ")";
        return false;
    }
    return true;
}

std::string workspace_line(const runtime::ModelRecord& model) {
    json record = json::parse(model.workspace_json.empty() ? "null" : model.workspace_json, nullptr, false);
    if (!record.is_object()) return "";
    return "model '" + record.value("name", "") + "' version " + record.value("version", "") + " in workspace '" +
           record.value("workspace", json::object()).value("name", "") + "' (" + record.value("uri", "") + ")";
}

}  // namespace amlflow::cli
