// `amlflow models` against an Azure ML workspace's registry (issue 19 item 3): the
// workspace's models listed, a workspace version downloaded (registered from this machine or
// another), and a local version whose registry copy is gone fetched again from the workspace
// it was registered in. Files come straight from the datastore the model's URI points at,
// streamed to disk (azureml/workspace_session.h).
#pragma once

#include <string>

#include "runtime/store/run_store.h"

namespace amlflow::cli {

// `models list --workspace [NAME]`: the workspace's models (name, versions, latest, created,
// tags). `file`: the pipeline whose workspace it is ("" for a config.json).
int list_workspace_models(const std::string& file, const std::string& name);

// `models download NAME[:VERSION] DIR --workspace`.
int download_workspace_model(const std::string& file, const std::string& reference, const std::string& to,
                             bool overwrite);

// The registry copy of `model`, missing here, fetched from the workspace its record names
// and checked against its content hash. false with *error when it has no workspace version
// or the fetch failed.
bool restore_from_workspace(const runtime::ModelRecord& model, std::string* error);

// "model 'm' version 3 in workspace 'ws' (<uri>)" for `models show`, or "" for none.
std::string workspace_line(const runtime::ModelRecord& model);

}  // namespace amlflow::cli
