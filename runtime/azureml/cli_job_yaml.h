// `amlflow plan FILE --format azureml` (issue 19 item 5): each step that runs on an
// `amlcompute` compute as the job YAML the Azure ML CLI v2 takes (`az ml job create -f`), so a
// user can compare amlflow with the CLI. The YAML is converted from the very REST body `run`
// submits (command_job_body, sweep_job_body), field by field with the CLI's names
// (azure-ai-ml's `_schema`: CommandJobSchema, SweepJobSchema, distribution, job limits in
// seconds, search space, sampling algorithm, objective, early termination), so the two cannot
// drift: a REST field the converter does not know is an error, not a silent omission.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>


namespace amlflow::runtime::azureml {

inline constexpr const char* kCommandJobSchema = "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json";
inline constexpr const char* kSweepJobSchema = "https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json";

// What the REST body names by ARM id, as the CLI names it.
struct CliJobRefs {
    std::string code;                 // the source folder, as a path relative to the YAML file
    nlohmann::ordered_json environment;  // "azureml:<curated>@latest", or {image, conda_file}
    std::string compute;              // the cluster's name
};

// The CLI's job (a YAML document's value) of a REST job body ({"properties": {...}}, Command
// or Sweep). nullopt with *error for a field it has no CLI form for.
std::optional<nlohmann::ordered_json> cli_job_from_rest(const nlohmann::json& body, const CliJobRefs& refs,
                                                        std::string* error);

}  // namespace amlflow::runtime::azureml
