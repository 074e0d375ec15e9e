// `amlflow plan FILE --format azureml` (issue 19 item 5): every step of a plan, each one that
// runs on an `amlcompute` compute as the job YAML of the Azure ML CLI v2 (cli_job_yaml.h),
// built as `run` builds its first attempt: the same command, environment, inputs (amlflow's
// helper, local paths, other steps' outputs), variables, limits and tags. What the YAML
// cannot say comes as comments: the environment version and job name amlflow would use, and
// the steps that run elsewhere.
#pragma once

#include <optional>
#include <string>

#include "runtime/azureml/cli_job_yaml.h"
#include "runtime/core/plan_model.h"

namespace amlflow::runtime::azureml {

struct CliJobsOptions {
    std::string plan_folder;     // absolute: the plan's relative paths start there
    std::string relative_to;     // absolute: the folder the YAML is read from (its paths start there)
    std::string python_lib;      // where `run` keeps amlflow's Python helper (the amlflow_lib input)
    std::string store_folder;    // the run store `run` would use (other steps' outputs are there)
    std::string run_id = "RUN";  // what stands for the run's id (variables, names, folders)
};

// What `run` would submit for a remote step's first attempt: the REST body, how the YAML names
// what the body names by id, and a comment on what amlflow registers.
struct RemoteStepJob {
    nlohmann::json body;
    CliJobRefs refs;
    std::string note;
};
std::optional<RemoteStepJob> remote_step_job(const RunPlan& plan, const StepPlan& step, const CliJobsOptions& options,
                                             std::string* error);

// The YAML documents, separated by `---`. nullopt with *error when a remote step's job
// cannot be built, or with *error empty when no step runs on an amlcompute compute.
std::optional<std::string> plan_as_cli_jobs(const RunPlan& plan, const CliJobsOptions& options, std::string* error);

}  // namespace amlflow::runtime::azureml
