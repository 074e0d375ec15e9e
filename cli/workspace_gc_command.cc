// `amlflow gc --workspace [FILE] [--dry-run]`: what amlflow created in an Azure ML workspace
// and nothing uses any more, listed and (without --dry-run) removed (azureml/workspace_gc.h).
// The workspace: each one FILE declares (a .amlflow file), or FILE as a `config.json`, or the
// `config.json` the Azure ML SDK would find (./config.json, ./.azureml/config.json, then the
// same in each parent folder).
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/workspace_option.h"
#include "runtime/azureml/workspace_from_plan.h"
#include "runtime/azureml/workspace_gc.h"

namespace amlflow::cli {

namespace fs = std::filesystem;
namespace az = amlflow::runtime::azureml;

namespace {

// The workspaces a pipeline file declares, each resolved as `run` resolves it.
std::optional<std::vector<az::WorkspaceRef>> workspaces_of_file(const std::string& file) {
    auto compiled = plan_of_file(file);
    if (!compiled) return std::nullopt;
    const nlohmann::json& plan = *compiled;
    fs::path folder = fs::absolute(file).parent_path();
    std::vector<az::WorkspaceRef> out;
    const nlohmann::json declared = plan.value("workspaces", nlohmann::json::object());
    for (const auto& [id, fields] : declared.items()) {
        std::string error;
        auto ref = az::workspace_from_plan(plan, {{"workspace", {{"$ref", id}}}}, folder.string(), &error);
        if (!ref) {
            std::cerr << "amlflow: error: " << file << ": " << error << "\n";
            return std::nullopt;
        }
        out.push_back(*ref);
    }
    if (out.empty()) std::cerr << "amlflow: error: " << file << " declares no workspace\n";
    if (out.empty()) return std::nullopt;
    return out;
}

std::optional<std::vector<az::WorkspaceRef>> workspaces_to_clean(const std::string& file) {
    std::string path = file;
    if (path.empty()) {
        auto found = find_workspace_config();
        if (!found) {
            std::cerr << "amlflow: error: which workspace? give a pipeline file (amlflow gc --workspace FILE) or a "
                         "config.json, or run where a config.json is (as the Azure portal downloads it)\n";
            return std::nullopt;
        }
        path = found->string();
    }
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
        std::cerr << "amlflow: error: '" << path << "' is not a file\n";
        return std::nullopt;
    }
    if (fs::path(path).extension() != ".json") return workspaces_of_file(path);
    std::string error;
    auto ref = az::workspace_from_config(path, &error);
    if (!ref) std::cerr << "amlflow: error: " << error << "\n";
    if (!ref) return std::nullopt;
    return std::vector<az::WorkspaceRef>{*ref};
}

std::string shown(const az::GcItem& item) {
    if (item.kind == "compute") return "compute '" + item.name + "'";
    if (item.version.empty()) return item.kind + " '" + item.name + "' (no version left)";
    return item.kind + " '" + item.name + "' version " + item.version;
}

// Prints what was (or would be) removed and what stays; 1 when a removal failed.
int report(const az::WorkspaceRef& ws, const az::WorkspaceGcOutcome& outcome, bool dry_run) {
    std::cout << "workspace '" << ws.name << "' (resource group '" << ws.resource_group << "'):\n";
    int removable = 0, failed = 0, untagged = 0;
    for (const az::GcItem& item : outcome.items) {
        if (!item.tagged) {
            ++untagged;
        } else if (!item.kept.empty()) {
            std::cout << (dry_run ? "  would keep " : "  kept ") << shown(item) << ": " << item.kept << "\n";
        } else if (!item.error.empty()) {
            ++failed;
            std::cerr << "amlflow: error: cannot remove " << shown(item) << ": " << item.error << "\n";
        } else {
            ++removable;
            std::cout << (dry_run ? "  would remove " : "  removed ") << shown(item) << "\n";
        }
    }
    if (removable == 0 && failed == 0) std::cout << "  nothing to remove\n";
    if (untagged > 0) {
        std::cout << "  left alone: " << untagged << " version" << (untagged == 1 ? "" : "s")
                  << " amlflow did not create (no " << az::kCreatedByTag << ": " << az::kCreatedByAmlflow
                  << " tag: the Azure ML CLI's, or from an amlflow before the tag)\n";
    }
    return failed > 0 ? 1 : 0;
}

}  // namespace

int workspace_gc_command(const std::string& file, bool dry_run) {
    auto workspaces = workspaces_to_clean(file);
    if (!workspaces) return 1;
    int code = 0;
    for (const az::WorkspaceRef& ws : *workspaces) {
        az::WorkspaceGcOutcome outcome = az::collect_workspace_garbage(ws, dry_run);
        if (!outcome.ok) {
            std::cerr << "amlflow: error: workspace '" << ws.name << "': " << outcome.error << "\n";
            code = 1;
            continue;
        }
        code = std::max(code, report(ws, outcome, dry_run));
    }
    return code;
}

}  // namespace amlflow::cli
