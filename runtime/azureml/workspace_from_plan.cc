#include "runtime/azureml/workspace_from_plan.h"

#include <filesystem>
#include <fstream>

namespace amlflow::runtime::azureml {
namespace fs = std::filesystem;

namespace {

std::string text_of(const nlohmann::json& fields, const char* name) {
    auto found = fields.find(name);
    return found != fields.end() && found->is_string() ? found->get<std::string>() : "";
}

}  // namespace

std::optional<WorkspaceRef> workspace_from_plan(const nlohmann::json& plan, const nlohmann::json& compute,
                                                const std::string& plan_folder, std::string* error) {
    const nlohmann::json workspaces = plan.value("workspaces", nlohmann::json::object());
    std::string id;
    if (compute.contains("workspace") && compute["workspace"].is_object()) id = compute["workspace"].value("$ref", "");
    if (id.empty() && workspaces.size() == 1) id = workspaces.begin().key();
    if (id.empty() || !workspaces.contains(id)) {
        *error = workspaces.empty() ? "the plan declares no workspace for Azure ML"
                                    : "the compute names no workspace and the plan has several";
        return std::nullopt;
    }
    const nlohmann::json& fields = workspaces[id];
    WorkspaceRef ref{text_of(fields, "subscription"), text_of(fields, "resource_group"), text_of(fields, "name")};
    if (fields.contains("config")) {
        fs::path path = fields["config"].is_object() ? fields["config"].value("$path", "") : text_of(fields, "config");
        if (path.is_relative()) path = fs::path(plan_folder) / path;
        std::ifstream in(path);
        auto config = nlohmann::json::parse(in, nullptr, false);
        if (!in || config.is_discarded() || !config.is_object()) {
            *error = "cannot read workspace config '" + path.string() + "'";
            return std::nullopt;
        }
        if (ref.subscription.empty()) ref.subscription = text_of(config, "subscription_id");
        if (ref.resource_group.empty()) ref.resource_group = text_of(config, "resource_group");
        if (ref.name.empty()) ref.name = text_of(config, "workspace_name");
    }
    std::string shown = "workspace '" + id.substr(id.find(':') + 1) + "'";
    for (const auto& [field, value] : {std::pair<const char*, std::string*>{"subscription", &ref.subscription},
                                       {"resource_group", &ref.resource_group}, {"name", &ref.name}}) {
        if (value->empty()) {
            *error = shown + " has no " + field;
            return std::nullopt;
        }
    }
    return ref;
}

std::optional<WorkspaceRef> workspace_from_config(const std::string& path, std::string* error) {
    std::ifstream in(path);
    if (!in) {
        *error = "cannot read workspace config '" + path + "'";
        return std::nullopt;
    }
    auto config = nlohmann::json::parse(in, nullptr, false);
    if (config.is_discarded() || !config.is_object()) {
        *error = "workspace config '" + path + "' is not a json object (subscription_id, resource_group, workspace_name)";
        return std::nullopt;
    }
    WorkspaceRef ref{text_of(config, "subscription_id"), text_of(config, "resource_group"), text_of(config, "workspace_name")};
    for (const auto& [field, value] : {std::pair<const char*, std::string*>{"subscription_id", &ref.subscription},
                                       {"resource_group", &ref.resource_group}, {"workspace_name", &ref.name}}) {
        if (value->empty()) {
            *error = "workspace config '" + path + "' has no '" + field + "'";
            return std::nullopt;
        }
    }
    return ref;
}

std::string compute_name(const nlohmann::json& compute, const std::string& id) {
    std::string name = text_of(compute, "name");
    return name.empty() ? id.substr(id.find(':') + 1) : name;
}

}  // namespace amlflow::runtime::azureml
