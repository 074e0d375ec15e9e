// A job's source as an Azure ML code version (issue 18 item 2; NOTES "Code upload hash"):
// the folder's content hash (hash version 202208, the Azure ML CLI's), looked up with the
// code list's hash query, so a snapshot uploaded once, by amlflow or by the CLI, is never
// uploaded again. On a miss: startPendingUpload for a blob folder and its SAS, the files
// uploaded there (blob_storage.h: parallel, blocks, resumable), then the code version PUT.
//
// An upload cut off half way resumes: the folder the service handed out is remembered under
// `upload_records` by hash (the URL without its SAS), and the next try uploads into that same
// folder with a fresh SAS, where what arrived already is skipped.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "runtime/azureml/arm_client.h"
#include "runtime/azureml/blob_storage.h"

namespace amlflow::runtime::azureml {

struct CodeRequest {
    std::filesystem::path folder;          // the job's source folder
    std::filesystem::path leave_out;       // the run store, when it lies inside the folder
    std::filesystem::path upload_records;  // a folder of this machine's unfinished uploads
    BlobOptions blob_options;
};

struct CodeOutcome {
    std::string id;          // the code version's ARM id, "" on error
    std::string hash;
    std::string uri;         // the folder's blob URL (its codeUri), where a job input reads it
    bool uploaded = false;   // false: found by its hash
    TransferOutcome transfer;
    std::string error;
};

void ensure_code(ArmClient& arm, const CodeRequest& request, std::function<void(CodeOutcome)> done);

}  // namespace amlflow::runtime::azureml
