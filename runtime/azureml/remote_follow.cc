#include "runtime/azureml/remote_follow.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <map>
#include <memory>
#include <optional>

#include "runtime/azureml/arm_client.h"
#include "runtime/azureml/job_watch.h"
#include "runtime/azureml/workspace_from_plan.h"
#include "runtime/core/event_loop.h"

namespace amlflow::runtime::azureml {
using nlohmann::json;

int64_t unix_ms_of(const std::string& iso_time) {
    std::tm parts{};
    const char* rest = strptime(iso_time.c_str(), "%Y-%m-%dT%H:%M:%S", &parts);
    if (!rest) return 0;
    time_t seconds = timegm(&parts);
    if (seconds == static_cast<time_t>(-1)) return 0;
    int64_t ms = static_cast<int64_t>(seconds) * 1000;
    if (*rest == '.') {  // a fraction: its first three digits are the milliseconds
        int scale = 100;
        for (++rest; *rest >= '0' && *rest <= '9'; ++rest, scale /= 10) ms += scale > 0 ? (*rest - '0') * scale : 0;
    }
    return ms;
}

namespace {

// What one job's following holds while the loop runs.
struct Follow {
    const FollowedJob* spec = nullptr;
    FollowedEnd end;
    ArmClient* arm = nullptr;
    std::string workspace;  // key into Session::history
    std::vector<std::unique_ptr<LogRelay>> relays;
    std::shared_ptr<JobWatch> watch;
    bool done = false;
};

// The HTTP client, credential chain and one resource-manager client per workspace, over
// an event loop of this call's own.
struct Session {
    EventLoop loop;
    HttpClient http{loop};
    RetryingClient client{http};
    DefaultCredential credential{client, CredentialOptions::from_process_environment()};
    std::optional<ArmEndpoint> endpoint;
    std::map<std::string, std::unique_ptr<ArmClient>> arms;
    std::map<std::string, std::string> history;  // run history's base URL, by workspace
    FollowOptions options;
};

void finish(Follow& follow, const std::string& error = "") {
    if (!error.empty()) follow.end.error = error;
    follow.done = true;
}

// The ended job's artifacts (outputs only when it completed), then it is done.
void fetch_artifacts(Follow& follow) {
    ArtifactTargets to = follow.spec->artifacts;
    if (follow.end.status != "Completed") to.outputs.clear();
    if (to.outputs.empty() && to.logs.empty()) return finish(follow);
    Follow* raw = &follow;
    bring_artifacts(*follow.arm, BlobOptions{}, follow.end.job, to, [raw](ArtifactOutcome got) {
        raw->end.artifacts = got;
        raw->end.artifacts_fetched = true;
        finish(*raw);
    });
}

// When the job ran, as run history says (the resource manager does not).
void read_times(Session& session, Follow& follow) {
    const std::string& base = session.history[follow.workspace];
    std::string url = base + "/history/v1.0" + workspace_path(follow.arm->workspace()) + "/runs/" +
                      percent_encode(follow.end.job) + "/details";
    Follow* raw = &follow;
    follow.arm->get_url(url, true, [raw](ArmAnswer answer) {
        if (answer.ok() && answer.body.is_object()) {
            raw->end.started_ms = unix_ms_of(answer.body.value("startTimeUtc", json()).is_string()
                                                 ? answer.body["startTimeUtc"].get<std::string>() : "");
            raw->end.finished_ms = unix_ms_of(answer.body.value("endTimeUtc", json()).is_string()
                                                  ? answer.body["endTimeUtc"].get<std::string>() : "");
        }
        fetch_artifacts(*raw);
    });
}

// Each rank's local log, emptied, then filled from the service's copy by the watch.
bool open_relays(Session& session, Follow& follow, std::string* error) {
    for (size_t rank = 0; rank < follow.spec->rank_logs.size(); ++rank) {
        const std::string& path = follow.spec->rank_logs[rank];
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) ::close(fd);
        LogRelayOptions relay;
        relay.label = std::to_string(rank);
        relay.path = path;
        follow.relays.push_back(std::make_unique<LogRelay>(session.loop, relay, nullptr));
        if (!follow.relays.back()->open(error)) return false;
    }
    return true;
}

void watch(Session& session, Follow& follow) {
    std::string error;
    if (!open_relays(session, follow, &error)) return finish(follow, error);
    JobWatchOptions options;
    options.job = follow.end.job;
    options.history_base = session.history[follow.workspace];
    options.log_interval = session.options.log_interval;
    options.status_interval = session.options.status_interval;
    if (session.options.note) options.reachability = outage_notes(follow.end.job, session.options.note);
    std::vector<LogRelay*> relays;
    for (auto& relay : follow.relays) relays.push_back(relay.get());
    Follow* raw = &follow;
    Session* owner = &session;
    follow.watch = std::make_shared<JobWatch>(*follow.arm, options, relays, nullptr, [raw, owner](const JobEnd& end) {
        for (auto& relay : raw->relays) {
            relay->end(Stream::out);
            relay->finish();
        }
        raw->end.logs_read = true;
        raw->end.ended = true;
        raw->end.status = end.status;
        raw->end.error = end.error;
        read_times(*owner, *raw);
    });
    follow.watch->start();
}

// Run history's address for the job's workspace (its discovery URL), found once.
void find_history(Session& session, Follow& follow) {
    if (session.history.count(follow.workspace)) return watch(session, follow);
    Follow* raw = &follow;
    Session* owner = &session;
    find_workspace_addresses(*follow.arm, [raw, owner](std::optional<WorkspaceAddresses> found, std::string error) {
        if (!found) return finish(*raw, error);
        owner->history[raw->workspace] = found->history_base;
        watch(*owner, *raw);
    });
}

void ask(Session& session, Follow& follow) {
    Follow* raw = &follow;
    Session* owner = &session;
    follow.arm->call("GET", job_path(follow.arm->workspace(), follow.end.job), nullptr, [raw, owner](ArmAnswer answer) {
        if (!answer.ok()) return finish(*raw, "cannot read job '" + raw->end.job + "': " + answer.error);
        raw->end.asked = true;
        raw->end.status = answer.body.value("properties", json::object()).value("status", "");
        raw->end.ended = terminal_status(raw->end.status);
        if (!raw->end.ended && !owner->options.wait) return finish(*raw);
        find_history(*owner, *raw);
    });
}

// The resource-manager client for the job's workspace; false with the reason in the job's end.
bool connect(Session& session, Follow& follow) {
    const FollowedJob& spec = *follow.spec;
    std::string error;
    if (!session.endpoint) session.endpoint = ArmEndpoint::from_environment(&error);
    auto ws = session.endpoint ? workspace_from_plan(spec.plan, spec.compute, spec.plan_folder, &error) : std::nullopt;
    if (!ws) {
        finish(follow, error);
        return false;
    }
    follow.workspace = ws->subscription + "/" + ws->resource_group + "/" + ws->name;
    auto& arm = session.arms[follow.workspace];
    if (!arm) arm = std::make_unique<ArmClient>(session.client, session.credential, *session.endpoint, *ws);
    follow.arm = arm.get();
    return true;
}

void every(EventLoop& loop, std::chrono::milliseconds period, const std::function<void()>& act) {
    loop.after(period, [&loop, period, act] {
        act();
        every(loop, period, act);
    });
}

}  // namespace

FollowOutcome follow_remote_jobs(const std::vector<FollowedJob>& jobs, const FollowOptions& options) {
    Session session;
    session.options = options;
    std::vector<std::unique_ptr<Follow>> follows;
    for (const FollowedJob& job : jobs) {
        auto follow = std::make_unique<Follow>();
        follow->spec = &job;
        follow->end.job = job.job;
        if (connect(session, *follow)) ask(session, *follow);
        follows.push_back(std::move(follow));
    }
    if (session.options.status_interval.count() == 0) {
        bool loopback = session.endpoint && session.endpoint->base().rfind("http://", 0) == 0;
        session.options.status_interval = std::chrono::milliseconds(loopback ? 1000 : 10000);
    }
    FollowOutcome outcome;
    session.loop.on_signal(SIGINT, [&outcome] { outcome.interrupted = true; });
    session.loop.on_signal(SIGTERM, [&outcome] { outcome.interrupted = true; });
    if (options.progress) every(session.loop, std::chrono::milliseconds(250), options.progress);
    if (options.keep_going) {
        every(session.loop, std::chrono::milliseconds(1000), [&] { outcome.stopped = outcome.stopped || !options.keep_going(); });
    }
    auto all_done = [&] {
        for (const auto& follow : follows) {
            if (!follow->done) return outcome.stopped || outcome.interrupted;
        }
        return true;
    };
    session.loop.run_until(all_done);
    for (auto& follow : follows) {
        if (follow->watch) follow->watch->stop();
        for (auto& relay : follow->relays) relay->finish();
        follow->end.error = session.credential.scrub(follow->end.error);
        outcome.jobs.push_back(follow->end);
    }
    if (options.progress) options.progress();
    return outcome;
}

}  // namespace amlflow::runtime::azureml
