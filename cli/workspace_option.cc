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
    compiler::CompileOptions options;
    options.machine = this_machine;
    auto result = compiler::compile_file(file, options);
    std::cerr << compiler::render_text(result->diagnostics, {use_color_on_stderr()});
    if (!result->plan) {
        *error = "'" + file + "' has errors; its workspace cannot be read";
        return std::nullopt;
    }
    json plan = compiler::plan_to_json(*result->plan);
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
    std::error_code ec;
    fs::path folder = fs::current_path(ec);
    for (fs::path at = folder; !at.empty(); at = at.parent_path()) {
        for (fs::path config : {at / "config.json", at / ".azureml" / "config.json"}) {
            if (!fs::is_regular_file(config, ec)) continue;
            json plan = {{"workspaces", {{"workspace:config", {{"config", config.string()}}}}}};
            return runtime::azureml::workspace_from_plan(plan, json::object(), at.string(), error);
        }
        if (at == at.parent_path()) break;
    }
    *error = "no workspace: pass --file FILE (a pipeline that declares one), or put the config.json the Azure "
             "portal downloads in this folder or one above it";
    return std::nullopt;
}

}  // namespace

std::optional<WorkspaceRef> choose_workspace(const std::string& file, std::string* error) {
    return file.empty() ? from_config(error) : from_file(file, error);
}

}  // namespace amlflow::cli
