// An environment as Azure ML sees it (issue 18 item 2; docs/runtime.md "Environments on
// Azure ML"): a docker image and a conda YAML, registered as an environment version named by
// the hash of exactly those two, so an unchanged environment is found, not registered again.
// The local interpreter (`python`) never enters it. A `curated` environment is the
// service's own and is named as `azureml:<name>@latest`.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/azureml/arm_client.h"

namespace amlflow::runtime::azureml {

inline constexpr const char* kDefaultCpuImage = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04";
inline constexpr const char* kDefaultGpuImage = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04";
inline constexpr const char* kDefaultPythonVersion = "3.10";

struct ServiceEnvironment {
    std::string curated;      // non-empty: the service's curated environment, nothing to register
    std::string image;
    std::string conda_yaml;
    std::string name;         // "amlflow-<environment>"
    std::string version;      // 16 hex digits of sha256(image, conda YAML)
};

// From the environment node's fields (`name` is its declaration's name); `plan_folder`
// resolves a `conda` file. nullopt with *error when the conda file cannot be read.
std::optional<ServiceEnvironment> service_environment(const nlohmann::json& fields, const std::string& name,
                                                      const std::string& plan_folder, std::string* error);

// The conda YAML of inline lists: channels (default conda-forge), python=<python_version>,
// pip, conda_packages, then the pip list.
std::string conda_yaml(const nlohmann::json& fields);

// How a job names a curated environment: "azureml:<name>@latest" (as given when it already
// starts with "azureml:").
std::string curated_environment_id(const std::string& curated);

// The id a job body names: found (GET) or registered (PUT) first. `done(id, error)`.
void ensure_environment(ArmClient& arm, const ServiceEnvironment& environment,
                        std::function<void(std::string id, std::string error)> done);

}  // namespace amlflow::runtime::azureml
