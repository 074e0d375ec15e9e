// Which Azure ML workspace a compute's jobs go to, from the plan (docs/plan-format.md): the
// compute's `workspace` reference, else the plan's only workspace; its three names given in
// the file, or read from a `config.json` as the Azure portal downloads it (subscription_id,
// resource_group, workspace_name), relative to the pipeline file's folder.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/azureml/arm_endpoint.h"

namespace amlflow::runtime::azureml {

// `plan` is the whole plan's JSON (its "workspaces" map); `compute` the compute's fields.
std::optional<WorkspaceRef> workspace_from_plan(const nlohmann::json& plan, const nlohmann::json& compute,
                                                const std::string& plan_folder, std::string* error);

// A workspace's three names from a `config.json` as the Azure portal downloads it
// (subscription_id, resource_group, workspace_name); nullopt with *error when it cannot be
// read or lacks one.
std::optional<WorkspaceRef> workspace_from_config(const std::string& path, std::string* error);

// The compute's name in the workspace: its `name` field, else its declaration's name
// (`id` is "compute:<name>").
std::string compute_name(const nlohmann::json& compute, const std::string& id);

}  // namespace amlflow::runtime::azureml
