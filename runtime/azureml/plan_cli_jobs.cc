#include "runtime/azureml/plan_cli_jobs.h"

#include <filesystem>
#include <map>

#include "runtime/azureml/arm_endpoint.h"
#include "runtime/azureml/cli_job_yaml.h"
#include "runtime/azureml/command_job.h"
#include "runtime/azureml/environment_asset.h"
#include "runtime/azureml/job_inputs.h"
#include "runtime/azureml/sweep_job.h"
#include "runtime/azureml/workspace_from_plan.h"
#include "runtime/azureml/yaml_text.h"
#include "runtime/core/retry_policy.h"

namespace amlflow::runtime::azureml {
namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

bool remote(const RunPlan& plan, const StepPlan& step) {
    return (step.kind == "job" || step.kind == "sweep") && plan.compute_of(step).value("$kind", "") == "amlcompute";
}

// A path as the YAML names it: relative to the folder the YAML is read from.
std::string shown_path(const fs::path& path, const CliJobsOptions& options) {
    fs::path relative = path.lexically_normal().lexically_relative(options.relative_to);
    if (relative.empty()) return path.generic_string();
    std::string text = relative.generic_string();
    return text == "." || text.rfind("..", 0) == 0 ? text : "./" + text;
}

// Where each step's results would be in the run (`run` fills these as steps end), and the job
// a remote step's outputs would be read from.
void placeholder_results(const RunPlan& plan, const CliJobsOptions& options, AttemptRequest& request,
                         std::map<std::string, std::string>& remote_jobs) {
    for (const StepPlan& other : plan.steps) {
        fs::path folder = fs::path(options.store_folder) / "runs" / options.run_id / other.name;
        for (const char* result : {"outputs", "logs", "checkpoints"}) {
            request.results[other.name][result] = (folder / result).string();
            request.results[other.name][std::string("best.") + result] = (folder / "best" / result).string();
        }
        if (remote(plan, other)) remote_jobs[other.name] = job_name(options.run_id, other.name, 0);
    }
}

// The environment as the YAML gives it: curated by name, else its image and conda file (the
// file the plan names, or the YAML amlflow writes from inline lists).
std::optional<ordered_json> environment_of(const AttemptRequest& request, const CliJobsOptions& options,
                                           std::string* note, std::string* error) {
    const StepPlan& step = *request.step;
    std::string name = step.environment.substr(step.environment.find(':') + 1);
    auto env = service_environment(request.environment, name, options.plan_folder, error);
    if (!env) return std::nullopt;
    if (!env->curated.empty()) return ordered_json(curated_environment_id(env->curated));
    *note = "# amlflow registers this environment as azureml:" + env->name + ":" + env->version + "\n";
    ordered_json out = {{"image", env->image}};
    const json& fields = request.environment;
    if (fields.contains("conda")) {
        fs::path path = fields["conda"].is_object() ? fields["conda"].value("$path", "") : fields.value("conda", "");
        out["conda_file"] = shown_path(path.is_relative() ? fs::path(options.plan_folder) / path : path, options);
    } else {
        out["conda_file"] = {{"$yaml", env->conda_yaml}};
    }
    return out;
}

// One remote step's document, with a comment on what amlflow names it.
std::optional<std::string> step_document(const RunPlan& plan, const StepPlan& step, const CliJobsOptions& options,
                                         std::string* error) {
    auto job = remote_step_job(plan, step, options, error);
    auto cli = job ? cli_job_from_rest(job->body, job->refs, error) : std::nullopt;
    if (!cli) return std::nullopt;
    return "# step '" + step.name + "' (" + step.kind + ") on compute '" + job->refs.compute +
           "'; amlflow submits it as job '" + job_name(options.run_id, step.name, 0) + "'\n" + job->note + yaml_text(*cli);
}

std::string elsewhere(const RunPlan& plan, const StepPlan& step) {
    json compute = plan.compute_of(step);
    std::string where = step.kind == "job" || step.kind == "sweep"
                            ? "on compute '" + step.compute.substr(step.compute.find(':') + 1) + "' (" +
                                  compute.value("$kind", "local") + ")"
                            : "on this machine";
    return "# step '" + step.name + "' (" + step.kind + ") runs " + where + ", not as an Azure ML job\n";
}

}  // namespace

std::optional<RemoteStepJob> remote_step_job(const RunPlan& plan, const StepPlan& step, const CliJobsOptions& options,
                                             std::string* error) {
    AttemptRequest request;
    request.step = &step;
    request.environment = plan.environment_of(step);
    request.compute = plan.compute_of(step);
    request.workdir = request.plan_folder = options.plan_folder;
    request.context.run_id = options.run_id;
    request.context.step = step.name;
    request.context.max_restarts = RetryPolicy::from_spec(step.spec).max_restarts();
    request.context.python_lib = options.python_lib;
    std::map<std::string, std::string> remote_jobs;
    placeholder_results(plan, options, request, remote_jobs);
    fs::path source = step.source.empty() ? fs::path(options.plan_folder) : fs::path(options.plan_folder) / step.source;
    auto inputs = JobInputs::collect(request, source, remote_jobs, options.python_lib, error);
    if (!inputs) return std::nullopt;
    for (JobInput& input : inputs->inputs()) {
        if (input.uri.empty()) input.uri = shown_path(input.local, options);  // the CLI uploads it
    }
    JobIds ids{"code", "environment", "compute"};  // the YAML names them its own way (refs)
    auto body = step.kind == "sweep" ? sweep_job_body(request, ids, error, &*inputs)
                                     : command_job_body(request, ids, error, &*inputs);
    RemoteStepJob out;
    auto environment = body ? environment_of(request, options, &out.note, error) : std::nullopt;
    if (!environment) return std::nullopt;
    out.body = std::move(*body);
    out.refs = {shown_path(source, options), *environment, compute_name(request.compute, step.compute)};
    return out;
}

std::optional<std::string> plan_as_cli_jobs(const RunPlan& plan, const CliJobsOptions& options, std::string* error) {
    std::string out = "# The jobs `amlflow run " + fs::path(plan.file).filename().string() +
                      "` submits to Azure ML, as the Azure ML CLI v2 takes them\n"
                      "# (az ml job create -f FILE, one job per file). Paths are relative to " + options.relative_to +
                      ";\n# " + options.run_id + " stands for the run's id.\n";
    for (const StepPlan& step : plan.steps) {
        if (!remote(plan, step)) out += elsewhere(plan, step);
    }
    int documents = 0;
    for (const StepPlan& step : plan.steps) {
        if (!remote(plan, step)) continue;
        auto document = step_document(plan, step, options, error);
        if (!document) {
            *error = "step '" + step.name + "': " + *error;
            return std::nullopt;
        }
        out += "---\n" + *document;
        ++documents;
    }
    if (documents == 0) {
        error->clear();
        return std::nullopt;
    }
    return out;
}

}  // namespace amlflow::runtime::azureml
