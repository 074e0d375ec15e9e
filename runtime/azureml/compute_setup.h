// An `amlcompute` cluster made ready for a job (issue 18 item 2): used as it is when the
// workspace has it (saying where its size or node counts differ from the file), else
// created: a PUT, then the long-running operation's `Azure-AsyncOperation` URL polled as its
// `Retry-After` asks (5 s when it names no wait) until it says Succeeded, each new state shown.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/azureml/arm_client.h"

namespace amlflow::runtime::azureml {

// "PT90S": an ISO 8601 duration of whole seconds (at least 1).
std::string iso_duration(long long milliseconds);

// The PUT body of a cluster from the compute's fields (vm_size, min_nodes, max_nodes,
// idle_time, priority), in the workspace's `location`, tagged as amlflow's (kCreatedByTag).
// It scales to `min_nodes` (default 0: it costs nothing idle) once its nodes have been idle
// for `idle_time` (default 30 minutes).
nlohmann::json compute_body(const nlohmann::json& fields, const std::string& location);

class ComputeSetup : public std::enable_shared_from_this<ComputeSetup> {
public:
    using Say = std::function<void(const std::string&)>;
    using Done = std::function<void(bool ok, std::string error)>;

    ComputeSetup(ArmClient& arm, std::string name, nlohmann::json fields, std::string location, Say say);
    void start(Done done);
    void cancel() { canceled_ = true; }

private:
    void create();
    void poll(const std::string& url, std::string last_state);
    void finish(bool ok, const std::string& error);

    ArmClient& arm_;
    std::string name_;
    nlohmann::json fields_;
    std::string location_;
    Say say_;
    Done done_;
    bool canceled_ = false;
};

}  // namespace amlflow::runtime::azureml
