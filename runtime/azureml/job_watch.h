// Following one submitted job (issue 18 items 3 and 5): run history's details polled every
// `log_interval` for the job's status and its `logFiles` (name -> SAS URL), each rank's
// `user_logs/std_log_process_N.txt` (`user_logs/std_log.txt` for a job without distribution)
// read from where the last read ended (only what is new), the bytes handed to that rank's
// LogRelay exactly as a local rank's pipe would be; the resource manager's own status read
// every `status_interval` besides (its read quota is per subscription, so 10 s against the
// real service). When the job ends every log is read once more to its end, then `done`.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/azureml/arm_client.h"
#include "runtime/core/backend.h"
#include "runtime/core/log_relay.h"

namespace amlflow::runtime::azureml {

struct JobWatchOptions {
    std::string job;
    std::string history_base;  // run history's base URL, from the workspace's discovery URL
    std::chrono::milliseconds log_interval{1000};
    std::chrono::milliseconds status_interval{10000};
    // Told when the service stops answering the polls (no answer, or 5xx after the client's
    // own retries), with why, and when it answers again: the polls go on meanwhile, each
    // wait doubled up to kOutageInterval, and what the ranks wrote in between is read once
    // it is back (nothing is lost: logs are read from where the last read ended).
    std::function<void(bool reachable, const std::string& why)> reachability;
};

// The longest wait between polls while the service cannot be reached.
inline constexpr std::chrono::milliseconds kOutageInterval{15000};

struct JobEnd {
    std::string status;        // Completed, Failed, Canceled, NotResponding, Paused
    std::string error;         // the service's error message, if any
};

// The rank a log file belongs to: N of "user_logs/std_log_process_N.txt", 0 for
// "user_logs/std_log.txt", -1 for any other file.
int rank_of_log(const std::string& name);
bool terminal_status(const std::string& status);

// The service's job state in amlflow's words: NotStarted, Starting, Provisioning and Queued
// are "queued", Preparing "preparing", Running "running", Finalizing "finishing",
// CancelRequested "canceling", Completed "succeeded", Failed "failed", Canceled "canceled";
// anything else lowercased.
std::string our_state(const std::string& status);
// "0.4 s", "12 s", "3 min 5 s".
std::string span_text(EventLoop::Clock::duration duration);
// "Queued 1.2 s, Preparing 3.0 s, Running 41 s": how long each state seen lasted (the last
// until `now`), a terminal state left out.
std::string state_durations(const std::vector<std::pair<std::string, EventLoop::Clock::time_point>>& states,
                            EventLoop::Clock::time_point now);
// The same as seconds per state, a terminal state left out (what remote-jobs.json keeps).
std::vector<std::pair<std::string, double>> state_seconds(
    const std::vector<std::pair<std::string, EventLoop::Clock::time_point>>& states, EventLoop::Clock::time_point now);
// The states as the board shows them (core/backend.h PlaceState): the service's word, ours,
// and when each was first seen (a terminal one marked final).
std::vector<PlaceState> place_states(const std::vector<std::pair<std::string, EventLoop::Clock::time_point>>& states);
// The job's page in Azure ML studio, from a job resource (`properties.services.Studio`).
std::string studio_link(const nlohmann::json& job);

// What a workspace's resource and its discovery URL say of where its services are: its
// location, run history's base URL (for logs), the API host and the MLflow tracking URI.
struct WorkspaceAddresses {
    std::string location, history_base, api_base, tracking_uri;
};
// Asks (the workspace, then its discovery URL); done(addresses, "") or done(nullopt, why).
void find_workspace_addresses(ArmClient& arm,
                              std::function<void(std::optional<WorkspaceAddresses>, std::string)> done);

// The `reachability` that says on `say` once when the service stops answering the polls of
// `job` and once when it answers again (the backend's terminal, `logs --follow`).
std::function<void(bool, const std::string&)> outage_notes(const std::string& job,
                                                             std::function<void(const std::string&)> say);

class JobWatch : public std::enable_shared_from_this<JobWatch> {
public:
    using State = std::function<void(const std::string& status)>;
    using Done = std::function<void(const JobEnd&)>;

    // `relays[r]` gets rank r's bytes (it must outlive the watch or the watch be stopped).
    JobWatch(ArmClient& arm, JobWatchOptions options, std::vector<LogRelay*> relays, State state, Done done);
    void start();
    void stop() { stopped_ = true; }
    const std::string& status() const { return status_; }
    // How long the resource manager's status is now read apart: `status_interval`, doubled
    // (to 120 s at most, or what Retry-After asked) each time the service throttled a poll
    // with 429, and halved back after each poll that was not throttled.
    std::chrono::milliseconds status_interval() const { return status_interval_; }
    // Whether the service's last answer to a poll was none (see reachability).
    bool unreachable() const { return unreachable_; }

private:
    void poll_history();
    void poll_status();
    void read_logs(const nlohmann::json& files, std::function<void()> then);
    void seen(const std::string& status);
    void end(const std::string& error);
    void pace(const ArmAnswer& answer, std::chrono::milliseconds base, std::chrono::milliseconds& interval);
    void reached(const ArmAnswer& answer);

    ArmClient& arm_;
    JobWatchOptions options_;
    std::vector<LogRelay*> relays_;
    std::vector<std::uint64_t> offsets_;
    State state_;
    Done done_;
    std::string status_;
    bool stopped_ = false, ending_ = false, unreachable_ = false;
    std::chrono::milliseconds status_interval_{0}, log_interval_{0};
};

}  // namespace amlflow::runtime::azureml
