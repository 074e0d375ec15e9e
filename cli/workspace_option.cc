#include "cli/workspace_option.h"

#include <filesystem>
#include <iostream>
#include <set>

#include "cli/commands.h"
#include "compiler/compile.h"
#include "runtime/azureml/workspace_from_plan.h"

namespace amlflow::cli {

namespace fs = std::filesystem;
using nlohmann::json;
using runtime::azureml::WorkspaceRef;

namespace {

std::optional<WorkspaceRef> from_file(const std::string& file, std::string* error) {
    auto compiled = plan_of_file(file);
    if (!compiled) {
        *error = "'" + file + "' has errors; its workspace cannot be read";
        return std::nullopt;
    }
    const json& plan = *compiled;
    json workspaces = plan.value("workspaces", json::object());
    if (workspaces.empty()) {
        *error = "'" + file + "' declares no workspace";
        return std::nullopt;
    }
    // Several workspaces: the one every amlcompute compute names.
    json compute = json::object();
    if (workspaces.size() > 1) {
        std::set<std::string> named;
        for (const auto& [id, fields] : plan.value("computes", json::object()).items()) {
            if (fields.value("$kind", "") == "amlcompute" && fields.contains("workspace")) {
                named.insert(fields["workspace"].value("$ref", ""));
                compute = fields;
            }
        }
        if (named.size() != 1) {
            std::string names;
            for (const auto& [id, fields] : workspaces.items()) names += (names.empty() ? "'" : ", '") + id.substr(id.find(':') + 1) + "'";
            *error = "'" + file + "' declares the workspaces " + names + " and no one of them is the one its amlcompute computes use";
            return std::nullopt;
        }
    }
    std::error_code ec;
    fs::path folder = fs::absolute(file, ec).parent_path();
    return runtime::azureml::workspace_from_plan(plan, compute, folder.string(), error);
}

std::optional<WorkspaceRef> from_config(std::string* error) {
    if (auto config = find_workspace_config()) {
        fs::path at = config->parent_path();
        if (at.filename() == ".azureml") at = at.parent_path();
        json plan = {{"workspaces", {{"workspace:config", {{"config", config->string()}}}}}};
        return runtime::azureml::workspace_from_plan(plan, json::object(), at.string(), error);
    }
    *error = "no workspace: pass --file FILE (a pipeline that declares one), or put the config.json the Azure "
             "portal downloads in this folder or one above it";
    return std::nullopt;
}

}  // namespace

std::optional<json> plan_of_file(const std::string& file) {
    compiler::CompileOptions options;
    options.machine = this_machine;
    auto result = compiler::compile_file(file, options);
    std::cerr << compiler::render_text(result->diagnostics, {use_color_on_stderr()});
    if (!result->plan) return std::nullopt;
    return compiler::plan_to_json(*result->plan);
}

std::optional<fs::path> find_workspace_config() {
    std::error_code ec;
    for (fs::path folder = fs::current_path(ec); !folder.empty(); folder = folder.parent_path()) {
        for (const fs::path& candidate : {folder / "config.json", folder / ".azureml" / "config.json"}) {
            if (fs::is_regular_file(candidate, ec)) return candidate;
        }
        if (folder == folder.parent_path()) break;
    }
    return std::nullopt;
}

std::optional<WorkspaceRef> choose_workspace(const std::string& file, std::string* error) {
    return file.empty() ? from_config(error) : from_file(file, error);
}

}  // namespace amlflow::cli
