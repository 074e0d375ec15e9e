// `amlflow cancel RUN` of a run whose amlflow is gone while its job runs on Azure ML (a
// detached run; DESIGN §5, issue 18 item 6): the job is canceled on the service from any
// terminal, with the credentials and workspace the run used, and followed until the service
// says it ended. Synchronous: it runs an event loop of its own.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/azureml/remote_job_ref.h"

namespace amlflow::runtime::azureml {

struct RemoteCancel : RemoteJobRef {
    std::chrono::seconds wait{60};
};

struct RemoteCancelOutcome {
    bool ok = false;              // the service says the job ended
    std::string status;           // its last state
    std::string error;            // one sentence, no secret in it
};

RemoteCancelOutcome cancel_remote_job(const RemoteCancel& what);

}  // namespace amlflow::runtime::azureml
