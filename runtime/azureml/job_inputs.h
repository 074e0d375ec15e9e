// What a job reads that is not in its source snapshot, as Azure ML inputs (issue 18 item 4;
// DESIGN §5 "inputs travel by content hash"): an argument naming a local file or folder, a
// job's `inputs`, and amlflow's Python helper each become a `uri_file`/`uri_folder` input,
// uploaded once by content hash (as a code version of its own: code_asset.h, so the user's
// snapshot keeps the Azure ML CLI's hash); another step's outputs, when that step ran on Azure
// ML, are read from its job (`azureml://jobs/<job>/outputs/artifacts/paths/outputs/...`) with
// nothing uploaded. A local path inside the source folder is passed relative to it (the
// snapshot is the job's working directory). `url(...)` and `azureml://` values are text and
// pass through as they are.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/azureml/arm_client.h"
#include "runtime/azureml/code_asset.h"
#include "runtime/core/backend.h"

namespace amlflow::runtime::azureml {

// The input that carries amlflow's Python helper (first on PYTHONPATH on the service).
inline constexpr const char* kHelperInput = "amlflow_lib";

struct JobInput {
    std::string name;                   // its name in the job ("arg_0", "in_data", "amlflow_lib")
    std::filesystem::path local;        // the file or folder here; empty when `uri` is given
    bool file = false;                  // uri_file, else uri_folder
    std::string uri;                    // where the service reads it (set once uploaded)
};

class JobInputs {
public:
    // `source`: the job's source folder; `remote_jobs`: step -> the Azure ML job that made its
    // outputs; `helper`: amlflow's Python helper folder ("" for none). A sweep's inputs are
    // its trial's (sweep_job.h sweep_trial_template).
    static std::optional<JobInputs> collect(const AttemptRequest& request, const std::filesystem::path& source,
                                            const std::map<std::string, std::string>& remote_jobs,
                                            const std::filesystem::path& helper, std::string* error);

    // The command's word for a plan value that names a path: `"${{inputs.x}}"`, or the path
    // relative to the source folder; nullopt for a value that is plain text.
    std::optional<std::string> word_for(const nlohmann::json& value) const;
    // `export AMLFLOW_INPUT_X="${{inputs.in_x}}"; ` for the job's `inputs` (and PYTHONPATH).
    std::string exports() const;
    // The job body's `inputs`.
    nlohmann::json body() const;

    std::vector<JobInput>& inputs() { return inputs_; }

private:
    std::optional<std::string> add(const nlohmann::json& value, const std::string& name, std::string* error);

    const AttemptRequest* request_ = nullptr;
    std::filesystem::path source_;
    const std::map<std::string, std::string>* remote_jobs_ = nullptr;
    std::vector<JobInput> inputs_;
    std::map<std::string, std::string> words_;      // the value's JSON text -> its word
    std::map<std::string, std::string> named_;      // the job's `inputs` name -> input name
};

// Uploads (or finds by hash) every input that has no uri yet, one after the other; `files`
// is where a single file is staged as a folder of its own. done("") or done(error).
void upload_inputs(ArmClient& arm, std::shared_ptr<JobInputs> inputs, const CodeRequest& how,
                   const std::filesystem::path& files, std::function<void(std::string)> done);

}  // namespace amlflow::runtime::azureml
