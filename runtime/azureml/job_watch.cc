#include "runtime/azureml/job_watch.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "runtime/azureml/blob_storage.h"
#include "runtime/core/state_times.h"

namespace amlflow::runtime::azureml {

int rank_of_log(const std::string& name) {
    if (name == "user_logs/std_log.txt") return 0;
    const std::string head = "user_logs/std_log_process_", tail = ".txt";
    if (name.rfind(head, 0) != 0 || name.size() <= head.size() + tail.size() ||
        name.compare(name.size() - tail.size(), tail.size(), tail) != 0) {
        return -1;
    }
    std::string digits = name.substr(head.size(), name.size() - head.size() - tail.size());
    if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stoi(digits);
}

bool terminal_status(const std::string& status) {
    return status == "Completed" || status == "Failed" || status == "Canceled" || status == "NotResponding" ||
           status == "Paused";
}

std::string our_state(const std::string& status) {
    static const std::map<std::string, std::string> kOurs = {
        {"NotStarted", "queued"},     {"Starting", "queued"},   {"Provisioning", "queued"},
        {"Queued", "queued"},         {"Preparing", "preparing"}, {"Running", "running"},
        {"Finalizing", "finishing"},  {"CancelRequested", "canceling"}, {"Completed", "succeeded"},
        {"Failed", "failed"},         {"Canceled", "canceled"}};
    auto found = kOurs.find(status);
    if (found != kOurs.end()) return found->second;
    std::string out;
    for (char c : status) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string span_text(EventLoop::Clock::duration duration) {
    return seconds_text(std::chrono::duration<double>(duration).count());
}

std::string state_durations(const std::vector<std::pair<std::string, EventLoop::Clock::time_point>>& states,
                            EventLoop::Clock::time_point now) {
    std::vector<std::pair<std::string, double>> spans;
    for (size_t i = 0; i < states.size(); ++i) {
        if (terminal_status(states[i].first)) continue;
        auto until = i + 1 < states.size() ? states[i + 1].second : now;
        spans.emplace_back(states[i].first, std::chrono::duration<double>(until - states[i].second).count());
    }
    return state_times_text(spans);
}

std::vector<std::pair<std::string, double>> state_seconds(
    const std::vector<std::pair<std::string, EventLoop::Clock::time_point>>& states, EventLoop::Clock::time_point now) {
    std::vector<std::pair<std::string, double>> out;
    for (size_t i = 0; i < states.size(); ++i) {
        if (terminal_status(states[i].first)) continue;
        auto until = i + 1 < states.size() ? states[i + 1].second : now;
        double seconds = std::chrono::duration<double>(until - states[i].second).count();
        out.emplace_back(states[i].first, std::round(seconds * 10) / 10);
    }
    return out;
}

std::vector<PlaceState> place_states(const std::vector<std::pair<std::string, EventLoop::Clock::time_point>>& states) {
    std::vector<PlaceState> out;
    for (const auto& [name, since] : states) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since.time_since_epoch()).count();
        out.push_back({name, our_state(name), static_cast<int64_t>(ms), terminal_status(name)});
    }
    return out;
}

std::string studio_link(const nlohmann::json& job) {
    if (!job.is_object()) return "";
    const auto& services = job.value("properties", nlohmann::json::object()).value("services", nlohmann::json::object());
    const auto& studio = services.is_object() ? services.value("Studio", nlohmann::json::object()) : nlohmann::json::object();
    auto endpoint = studio.is_object() ? studio.find("endpoint") : studio.end();
    return endpoint != studio.end() && endpoint->is_string() ? endpoint->get<std::string>() : "";
}

void find_workspace_addresses(ArmClient& arm,
                              std::function<void(std::optional<WorkspaceAddresses>, std::string)> done) {
    ArmClient* client = &arm;
    arm.call("GET", workspace_path(arm.workspace()), nullptr, [client, done](ArmAnswer answer) {
        if (!answer.ok()) return done(std::nullopt, "cannot reach the workspace: " + answer.error);
        const nlohmann::json properties = answer.body.value("properties", nlohmann::json::object());
        WorkspaceAddresses out;
        out.location = answer.body.value("location", "");
        out.tracking_uri = properties.value("mlFlowTrackingUri", "");
        std::string discovery = properties.value("discoveryUrl", "");
        if (discovery.empty()) return done(std::nullopt, "the workspace names no discovery url");
        client->get_url(discovery, false, [out, done](ArmAnswer found) mutable {
            std::string history = found.ok() ? found.body.value("history", found.body.value("api", "")) : "";
            while (!history.empty() && history.back() == '/') history.pop_back();
            if (history.empty()) return done(std::nullopt, "cannot find run history: " + found.error);
            out.history_base = history;
            out.api_base = found.body.value("api", history);
            done(out, "");
        });
    });
}

std::function<void(bool, const std::string&)> outage_notes(const std::string& job,
                                                             std::function<void(const std::string&)> say) {
    return [job, say](bool reachable, const std::string& why) {
        say(reachable ? "the service answers again; reading job '" + job + "' on from where it stopped"
                      : "the service cannot be reached (" + why + "); job '" + job +
                            "' goes on there, and amlflow keeps asking");
    };
}

JobWatch::JobWatch(ArmClient& arm, JobWatchOptions options, std::vector<LogRelay*> relays, State state, Done done)
    : arm_(arm), options_(std::move(options)), relays_(std::move(relays)), offsets_(relays_.size(), 0),
      state_(std::move(state)), done_(std::move(done)), status_interval_(options_.status_interval),
      log_interval_(options_.log_interval) {}

namespace {

// No answer, or one that says the service is down (after the client's own retries).
bool no_answer(const ArmAnswer& answer) { return answer.status == 0 || answer.status == 408 || answer.status >= 500; }

}  // namespace

// 429 on a poll: the next one waits twice as long (or what Retry-After asked), up to 120 s;
// each answer that was not throttled halves the wait back towards `base`. No answer at all:
// twice as long, up to kOutageInterval (reached() resets both waits when it is back).
void JobWatch::pace(const ArmAnswer& answer, std::chrono::milliseconds base, std::chrono::milliseconds& interval) {
    if (answer.throttled) {
        interval = std::min(std::chrono::milliseconds(120000), std::max(interval * 2, answer.retry_after));
    } else if (no_answer(answer)) {
        interval = std::min(kOutageInterval, std::max(base, interval * 2));
    } else {
        interval = std::max(base, interval / 2);
    }
}

// An outage begins or ends: said once each way; when it ends the polls are back at their pace.
void JobWatch::reached(const ArmAnswer& answer) {
    bool down = no_answer(answer);
    if (down == unreachable_) return;
    unreachable_ = down;
    if (!down) {
        status_interval_ = options_.status_interval;
        log_interval_ = options_.log_interval;
    }
    if (options_.reachability) options_.reachability(!down, down ? answer.error : "");
}

void JobWatch::start() {
    poll_history();
    poll_status();
}

void JobWatch::seen(const std::string& status) {
    if (status.empty() || status == status_) return;
    status_ = status;
    if (state_) state_(status);
}

void JobWatch::poll_status() {
    if (stopped_ || ending_) return;
    auto self = shared_from_this();
    arm_.call("GET", job_path(arm_.workspace(), options_.job), nullptr, [self](ArmAnswer answer) {
        if (self->stopped_ || self->ending_) return;
        if (answer.ok()) self->seen(answer.body.value("properties", nlohmann::json::object()).value("status", ""));
        self->reached(answer);
        self->pace(answer, self->options_.status_interval, self->status_interval_);
        self->arm_.client().loop().after(self->status_interval_, [self] { self->poll_status(); });
    });
}

void JobWatch::poll_history() {
    if (stopped_ || ending_) return;
    const WorkspaceRef& ws = arm_.workspace();
    std::string url = options_.history_base + "/history/v1.0" + workspace_path(ws) + "/runs/" +
                      percent_encode(options_.job) + "/details";
    auto self = shared_from_this();
    arm_.get_url(url, true, [self](ArmAnswer answer) {
        if (self->stopped_ || self->ending_) return;
        self->reached(answer);
        self->pace(answer, self->options_.log_interval, self->log_interval_);
        auto again = [self] {
            self->arm_.client().loop().after(self->log_interval_, [self] { self->poll_history(); });
        };
        if (!answer.ok() || !answer.body.is_object()) return again();  // the ARM status still runs
        std::string status = answer.body.value("status", "");
        nlohmann::json files = answer.body.value("logFiles", nlohmann::json::object());
        bool over = terminal_status(status);
        std::string error;
        if (over && answer.body.contains("error")) {
            const auto& e = answer.body["error"];
            error = e.is_object() ? e.value("error", nlohmann::json::object()).value("message", "") : "";
        }
        if (!over) self->seen(status);
        if (over) self->ending_ = true;
        self->read_logs(files, [self, over, status, error, again] {
            if (self->stopped_) return;
            if (!over) return again();
            self->seen(status);
            self->end(error);
        });
    });
}

void JobWatch::read_logs(const nlohmann::json& files, std::function<void()> then) {
    auto left = std::make_shared<int>(1);
    auto one_done = [left, then] {
        if (--*left == 0) then();
    };
    auto self = shared_from_this();
    for (const auto& [name, url] : files.items()) {
        int rank = rank_of_log(name);
        if (rank < 0 || rank >= static_cast<int>(relays_.size()) || !url.is_string()) continue;
        ++*left;
        BlobStorage::read_from(arm_.client(), url.get<std::string>(), offsets_[rank],
                               [self, rank, one_done](RangeRead read) {
                                   if (!self->stopped_ && read.ok && !read.bytes.empty()) {
                                       self->offsets_[rank] += read.bytes.size();
                                       self->relays_[rank]->write(Stream::out, read.bytes);
                                   }
                                   one_done();
                               });
    }
    one_done();
}

void JobWatch::end(const std::string& error) {
    if (!done_) return;
    Done done = std::move(done_);
    done_ = nullptr;
    done({status_, error});
}

}  // namespace amlflow::runtime::azureml
