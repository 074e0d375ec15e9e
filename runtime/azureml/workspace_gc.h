// `amlflow gc --workspace` (issue 19 item 7): what amlflow created in an Azure ML workspace
// and no longer needs, found and (unless dry) removed. Only what carries amlflow's tag
// (kCreatedByTag) is a candidate, since a code version found by its hash may be the Azure ML
// CLI's: environment versions (`amlflow-<environment>`), code versions (named by their
// content hash: the sources and amlflow's helper) and `amlcompute` clusters. Nothing a job
// that has not ended still names (its code, environment, inputs or compute) is touched, nor a
// cluster with nodes up; models never are. An emptied container goes with its last version;
// a cluster is deleted through the service's long-running operation. Synchronous: it runs an
// event loop of its own, as remote_cancel.h does.
#pragma once

#include <string>
#include <vector>

#include "runtime/azureml/arm_endpoint.h"

namespace amlflow::runtime::azureml {

struct GcItem {
    std::string kind;             // "compute", "environment" or "code"
    std::string name;
    std::string version;          // "" for a compute
    std::string kept;             // why it stays; "" when it goes
    bool tagged = true;           // false: not amlflow's (kept says so)
    bool removed = false;
    std::string error;            // its removal failed
};

struct WorkspaceGcOutcome {
    bool ok = false;              // the workspace was read
    std::string error;            // why not, one sentence, no secret in it
    std::vector<GcItem> items;    // computes first, then environments, then code
};

// `dry_run`: only list. The endpoint and credentials come from the process environment.
WorkspaceGcOutcome collect_workspace_garbage(const WorkspaceRef& workspace, bool dry_run);

}  // namespace amlflow::runtime::azureml
