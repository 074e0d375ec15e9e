// A job of a recorded run as a later command names it, from any terminal and without the run's
// amlflow (`cancel`, `runs show`, `logs --follow` of a detached run): the run's plan (its
// workspaces), the step's compute and the job's name on the service.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace amlflow::runtime::azureml {

struct RemoteJobRef {
    nlohmann::json plan;          // the run's recorded plan (its workspaces)
    nlohmann::json compute;       // the step's compute fields
    std::string compute_id;       // "compute:<name>"
    std::string plan_folder;      // the pipeline file's folder (a config.json there)
    std::string job;
};

}  // namespace amlflow::runtime::azureml
