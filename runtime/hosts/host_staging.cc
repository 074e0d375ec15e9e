#include "runtime/hosts/host_staging.h"

#include <algorithm>
#include <filesystem>
#include <set>

namespace amlflow::runtime {

namespace fs = std::filesystem;

HostStaging::HostStaging(EventLoop& loop, HostsCompute compute, StagingMode mode, std::vector<std::string> hosts)
    : loop_(loop), compute_(std::move(compute)), mode_(mode), hosts_(std::move(hosts)) {
    if (mode_ == StagingMode::local_copy) hosts_ = {""};
}

HostStaging::~HostStaging() { loop_.cancel(finish_timer_); }

bool HostStaging::prepare(const StagingRequest& request, std::string* error) {
    auto items = staged_items(request, error);
    if (!items) return false;
    items_ = std::move(*items);
    layout_ = remote_layout(compute_.workdir, request, items_);
    return true;
}

std::string HostStaging::label(const Target& target) const {
    return target.host.empty() ? "the workdir '" + layout_.workdir + "'" : host_label(target.host, "");
}

void HostStaging::begin(std::vector<std::string> hosts, Done done) {
    done_ = std::move(done);
    outcome_ = StagingOutcome{};
    targets_.clear();
    for (std::string& host : hosts) {
        targets_.push_back(std::make_unique<Target>(loop_));
        targets_.back()->host = std::move(host);
    }
}

void HostStaging::push(const std::string& checkpoints, Done done) {
    begin(hosts_, std::move(done));
    for (auto& target : targets_) {
        Target* at = target.get();
        at->steps.push_back({target_command(compute_, at->host, probe_script(layout_, items_)),
                             "preparing '" + layout_.workdir + "'", [this, at, checkpoints](const CommandResult& result) {
                                 queue_copies(*at, hashes_present(result.out), checkpoints);
                             }});
    }
    for (auto& target : targets_) next(*target);
    finish_if_done();
}

// After the probe: each hash the target lacks (once, however many items share it), then
// their markers, last, then the checkpoints.
void HostStaging::queue_copies(Target& target, const std::vector<std::string>& present,
                               const std::string& checkpoints) {
    std::set<std::string> have(present.begin(), present.end());
    std::vector<std::string> sent;
    for (const StagedItem& item : items_) {
        if (!have.insert(item.hash).second) continue;
        std::string folder = layout_.workdir + "/cache/" + item.hash;
        std::string note = (target.host.empty() ? "." : target.host) + " " + item.hash + " " + item.local;
        target.steps.push_back({rsync_push(compute_, target.host, item.local, !item.file, folder, !item.file),
                                "copying '" + item.local + "'",
                                [this, note](const CommandResult&) { outcome_.copied.push_back(note); }});
        sent.push_back(item.hash);
    }
    if (!sent.empty()) {
        target.steps.push_back({target_command(compute_, target.host, mark_script(layout_.workdir, sent)),
                                "marking what was copied", nullptr});
    }
    target.steps.push_back({target_command(compute_, target.host, work_script(layout_)),
                            "making the working directory '" + layout_.work + "'", nullptr});
    std::error_code ec;
    if (!checkpoints.empty() && fs::is_directory(checkpoints, ec)) {
        target.steps.push_back({rsync_push(compute_, target.host, checkpoints, true, layout_.checkpoints, true),
                                "copying the checkpoints '" + checkpoints + "'", nullptr});
    }
}

void HostStaging::pull(const LocalFolders& into, Done done) {
    begin({hosts_.empty() ? std::string() : hosts_.front()}, std::move(done));
    Target& target = *targets_.front();
    std::error_code ec;
    for (const auto& [from, to, mirror] : {std::tuple{layout_.outputs, into.outputs, false},
                                           std::tuple{layout_.logs, into.logs, false},
                                           std::tuple{layout_.checkpoints, into.checkpoints, true}}) {
        if (to.empty()) continue;
        fs::create_directories(to, ec);
        target.steps.push_back({rsync_pull(compute_, target.host, from, to, mirror),
                                "bringing back '" + from + "'", nullptr});
    }
    next(target);
    finish_if_done();
}

// Runs the target's next step; a failure ends the target with one message naming it.
void HostStaging::next(Target& target) {
    if (target.steps.empty()) {
        target.done = true;
        return;
    }
    Step step = std::move(target.steps.front());
    target.steps.pop_front();
    auto limit = std::chrono::duration_cast<std::chrono::milliseconds>(kCommandLimit);
    target.run.start(step.argv, limit, [this, &target, step](CommandResult result) {
        if (!result.success()) {
            std::string said = result.started ? result.last_line() : result.error;
            if (result.timed_out) said = "no end within " + std::to_string(kCommandLimit.count()) + " min";
            if (said.empty()) said = result.status.describe();
            outcome_.problems.push_back(label(target) + ": " + step.what + " failed: " + said);
            target.steps.clear();
            target.done = true;
        } else {
            if (step.after) step.after(result);
            next(target);
        }
        finish_if_done();
    });
}

void HostStaging::finish_if_done() {
    if (!done_ || finish_timer_ != 0) return;
    if (!std::all_of(targets_.begin(), targets_.end(), [](const auto& target) { return target->done; })) return;
    // From a timer, not from inside a CommandRun's callback: `done` may destroy this.
    finish_timer_ = loop_.after(std::chrono::milliseconds(0), [this] {
        finish_timer_ = 0;
        Done done = std::move(done_);
        done_ = nullptr;
        if (done) done(outcome_);
    });
}

}  // namespace amlflow::runtime
