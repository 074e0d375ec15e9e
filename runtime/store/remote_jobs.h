// The remote jobs of a run (DESIGN §5: a run whose work lives on Azure ML): each attempt's
// job name and its studio link, kept as `remote-jobs.json` in the run's folder beside its
// record (whose `remote_job` column names the latest, so that a run whose amlflow dies is
// detached). `runs show` prints them; `cancel` and `run --resume` of a detached run find its
// jobs there by step.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/state_times.h"  // state_times_text of a job's states

namespace amlflow::runtime {

struct RemoteJob {
    std::string step;
    int attempt = 0;
    std::string job;      // the service's job name
    std::string studio;   // its page in Azure ML studio ("" when the service gave none)
    std::string state;    // "submitted", then how it ended: "Completed", "Failed", "Canceled"
    // When it ended: each of the service's states it walked and the seconds spent there.
    std::vector<std::pair<std::string, double>> states;
};

// Every job recorded for the run whose folder is `run_folder`, oldest first (none when the
// file is absent or unreadable).
std::vector<RemoteJob> read_remote_jobs(const std::filesystem::path& run_folder);

// Adds `job`, or updates the record of the same job name; written through a temporary file
// so a reader never sees half of it. false with *error.
bool record_remote_job(const std::filesystem::path& run_folder, const RemoteJob& job, std::string* error);

// Each step's latest job while it may still run (state "submitted"): job name by step name.
std::map<std::string, std::string> live_remote_jobs(const std::vector<RemoteJob>& jobs);

}  // namespace amlflow::runtime
