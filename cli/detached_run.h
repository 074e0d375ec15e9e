// A detached run (DESIGN §5: its amlflow is gone — SIGKILL, a reboot — while its jobs go on
// on Azure ML) reached from any terminal (issue 19 item 4). `amlflow runs show RUN` catches
// the run store up with the service: each job still recorded as submitted is asked for its
// state, and one that ended is recorded as the dead amlflow would have recorded it —
// remote-jobs.json, its attempt, ranks and step with the service's times, the rank logs
// rewritten from the service's copy, the outputs of a completed job brought back — and, once
// no job is left on the service, the run's own state (succeeded, failed, canceled, or
// interrupted where steps are left for `--resume`). `amlflow logs RUN --follow` streams the
// jobs' rank logs from the service until they end, then records the same.
//
// What cannot come back this way (a sweep job's best trial, outputs whose download failed) is
// said, and `amlflow run --resume RUN` brings it: it reattaches to the completed job
// (azureml_run.h) instead of submitting another. A step caught up here is not entered in the
// cache: its cache key depends on files as they were when the run started.
#pragma once

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "runtime/azureml/remote_follow.h"
#include "runtime/core/plan_model.h"
#include "runtime/store/remote_jobs.h"
#include "runtime/store/run_store.h"

namespace amlflow::cli {

// A detached run's jobs still recorded as submitted, as the service is asked about them.
struct DetachedJobs {
    std::vector<runtime::RemoteJob> records;
    std::vector<runtime::azureml::FollowedJob> jobs;  // jobs[i] is records[i]
    std::optional<runtime::RunPlan> plan;             // the run's recorded plan, read once
    std::string error;                                // the run's plan cannot be read
};

DetachedJobs detached_jobs(runtime::RunStore& store, const runtime::RunRecord& run);

// How `job` of `run`'s step `step` is named to the service, from the run's recorded plan.
runtime::azureml::RemoteJobRef remote_job_ref(const runtime::RunPlan& plan, const runtime::StepPlan& step,
                                              const runtime::RunRecord& run, const std::string& job);

// Records what the service said of each job (under the run's lock: a `--resume` that took
// the run meanwhile is left alone) and writes one line per job to `out`. Returns the exit
// code the jobs' ends make: 0 every ended job completed, 2 otherwise.
int record_detached(runtime::RunStore& store, const runtime::RunRecord& run, const DetachedJobs& jobs,
                    const runtime::azureml::FollowOutcome& outcome, std::ostream& out);

// `runs show` of a detached run: asks, records and says (on `out`) what happened meanwhile.
void catch_up_detached(runtime::RunStore& store, const runtime::RunRecord& run, std::ostream& out);

}  // namespace amlflow::cli
