// The jobs of a detached run (issue 19 item 4: its amlflow is gone, its jobs live on Azure
// ML), asked about from any terminal: `amlflow runs show RUN` catches up with what happened
// meanwhile, `amlflow logs RUN --follow` streams the jobs' rank logs from the service until
// they end. Synchronous, with an event loop of its own (as remote_cancel.h): the caller (cli/)
// records what it learns in the run store, which this layer does not know.
//
// A job is asked for its state (the resource manager's GET); one that ended, or, when
// following, one that still runs, is then read the way the backend reads it (job_watch.h):
// run history's details for its `logFiles`, each rank's log fetched into the rank's local
// log file. The local file is rewritten from the service's copy, which is complete where the
// dead amlflow's may stop short. Once the job has ended its start and end times come from
// run history, and its artifacts (job_artifacts.h: ./outputs of a completed job, ./logs)
// come into the folders given.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/azureml/job_artifacts.h"
#include "runtime/azureml/remote_job_ref.h"

namespace amlflow::runtime::azureml {

struct FollowedJob : RemoteJobRef {
    std::vector<std::string> rank_logs;  // rank r's local log file (rewritten); may be empty
    ArtifactTargets artifacts;           // outputs taken only from a completed job
};

struct FollowedEnd {
    std::string job;
    bool asked = false;       // the service answered about the job (else `error` says why not)
    bool ended = false;       // the job has ended (its status is terminal)
    std::string status;       // the service's word: Running, Completed, Failed, Canceled, ...
    std::string error;        // why it could not be asked, or the service's error for the job
    int64_t started_ms = 0, finished_ms = 0;  // unix ms from run history; 0 when not known
    bool logs_read = false;   // the rank logs were rewritten from the service's copy
    ArtifactOutcome artifacts;
    bool artifacts_fetched = false;
};

struct FollowOptions {
    // true: follow jobs that still run until they end (logs --follow); false: only jobs that
    // already ended are read, the others reported with their state (runs show).
    bool wait = false;
    std::chrono::milliseconds log_interval{1000};
    std::chrono::milliseconds status_interval{0};  // 0: 10 s, 1 s against a loopback endpoint
    std::function<void()> progress;                // every 250 ms and at the end: new log bytes
    std::function<bool()> keep_going;              // checked every second; false stops following
    std::function<void(const std::string&)> note;  // one line for the terminal (unreachable, back)
};

struct FollowOutcome {
    std::vector<FollowedEnd> jobs;  // in the order given
    bool stopped = false;           // keep_going said no before every job had ended
    bool interrupted = false;       // SIGINT or SIGTERM while following
};

FollowOutcome follow_remote_jobs(const std::vector<FollowedJob>& jobs, const FollowOptions& options);

// "2026-11-22T03:15:00.123Z" (run history's times) as unix ms; 0 when it cannot be read.
int64_t unix_ms_of(const std::string& iso_time);

}  // namespace amlflow::runtime::azureml
