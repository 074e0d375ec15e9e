// Whether the Azure ML end-to-end tests talk to the emulator (the default) or, in live mode,
// to a real workspace (docs/running-on-azureml.md "Live test mode"): AMLFLOW_AZUREML_LIVE=1
// with the workspace's names and a compute cluster's name set. In live mode the emulator is
// not started, tests that need its control endpoint are skipped, and every wait is longer.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace amlflow::testing {

struct LiveMode {
    bool live = false;
    std::string problem;  // live mode asked for but not set up: what is missing ("" otherwise)
    std::string compute;  // the cluster the jobs run on
    std::map<std::string, std::string> vars;  // the variables amlflow is given, as the emulator's `start` prints them
};

// The variables a live run needs besides credentials (amlflow finds those itself: a service
// principal, workload identity, managed identity or `az login`).
inline const std::vector<std::string>& live_mode_variables() {
    static const std::vector<std::string> names = {"AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZUREML_WORKSPACE",
                                                   "AMLFLOW_AZUREML_LIVE_COMPUTE"};
    return names;
}

inline LiveMode decide_live_mode(const std::function<const char*(const char*)>& get) {
    LiveMode mode;
    const char* live = get("AMLFLOW_AZUREML_LIVE");
    if (!live || std::string(live).empty() || std::string(live) == "0") return mode;
    mode.live = true;
    std::string missing;
    for (const std::string& name : live_mode_variables()) {
        const char* value = get(name.c_str());
        if (value && *value) mode.vars[name] = value;
        else missing += (missing.empty() ? "" : ", ") + name;
    }
    if (!missing.empty()) {
        mode.problem = "AMLFLOW_AZUREML_LIVE is set but " + missing +
                       (missing.find(',') == std::string::npos ? " is" : " are") +
                       " not: set them to a workspace and a compute cluster you may run jobs on";
        return mode;
    }
    mode.compute = mode.vars["AMLFLOW_AZUREML_LIVE_COMPUTE"];
    // Credentials and endpoints as set; amlflow reads them from its environment.
    for (const char* name : {"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST",
                             "AZURE_FEDERATED_TOKEN_FILE", "AMLFLOW_ARM_ENDPOINT"}) {
        if (const char* value = get(name); value && *value) mode.vars[name] = value;
    }
    return mode;
}

}  // namespace amlflow::testing
