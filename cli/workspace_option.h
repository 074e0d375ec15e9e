// Which Azure ML workspace a command that is not a run speaks to (`amlflow models list
// --workspace`, `models download --workspace`): the one the pipeline file given with --file
// declares (its only workspace, or the one its amlcompute computes name), else a
// `config.json` as the Azure portal downloads it, found the way the Azure ML SDK's
// `Workspace.from_config()` finds it: in the current folder or one above it, directly or in
// its `.azureml/` folder. The names are read as a run reads them (azureml/workspace_from_plan.h).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/azureml/arm_endpoint.h"

namespace amlflow::cli {

// nullopt with *error (the file's diagnostics are printed to stderr first).
std::optional<runtime::azureml::WorkspaceRef> choose_workspace(const std::string& file, std::string* error);

// The plan of a pipeline file, its diagnostics printed to stderr; nullopt when it has errors.
std::optional<nlohmann::json> plan_of_file(const std::string& file);

// The config.json the Azure ML SDK's from_config() would read: in the current folder or one
// above it, directly or in its `.azureml/` folder.
std::optional<std::filesystem::path> find_workspace_config();

}  // namespace amlflow::cli
