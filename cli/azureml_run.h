// What `amlflow run` tells the Azure ML backend about the run, and what it records of the
// run's jobs (store/remote_jobs.h): each job's name and studio link as the service takes it
// (so that a run whose amlflow dies is detached, never interrupted), the jobs a resumed run
// follows again instead of submitting new ones, and a run whose Ctrl-C could not reach the
// service left detached, so that `amlflow cancel RUN` can finish its job later.
#pragma once

#include <string>

#include "runtime/azureml/azureml_backend.h"
#include "runtime/core/plan_model.h"
#include "runtime/store/run_store.h"

namespace amlflow::cli {

runtime::azureml::AzureMlBackendOptions azureml_run_options(const runtime::RunPlan& plan, runtime::RunStore& store,
                                                            const std::string& run_id, bool resumed,
                                                            const std::string& python_lib);

// After the run: jobs that a stop could not cancel keep the run detached. Returns the exit
// code to use (`code` unchanged).
int settle_uncanceled_jobs(const runtime::azureml::AzureMlBackend& azure, runtime::RunStore& store,
                           const std::string& run_id, int code);

}  // namespace amlflow::cli
