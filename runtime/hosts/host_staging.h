// The files of a `hosts` job, to and from the hosts (DESIGN §5): with shared_fs = false the
// source snapshot, amlflow's Python helper, the shim and every input go to each host by
// content hash (never twice: a host that has a hash's .done marker is skipped), each
// attempt's folders are made there, the checkpoint folder goes out before each attempt, and
// rank 0's outputs, logs and checkpoints come back after it. With shared_fs = true and a
// `workdir` of its own, one copy on this machine serves every host. staging_layout.h says
// where everything goes; the backend hands the ranks RemoteLayout's paths.
//
// Everything runs on the event loop, each host on its own (one rsync or ssh at a time per
// host, all hosts at once): rsync -a over the compute's own ssh options, so what reaches a
// host for the ranks reaches it for the files too. Hashing the local files (prepare) is the
// one synchronous part: content digests of the small snapshot, helper and shim, and only
// stat for inputs (staging_layout.h).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/event_loop.h"
#include "runtime/hosts/command_run.h"
#include "runtime/core/host_list.h"
#include "runtime/hosts/staging_layout.h"

namespace amlflow::runtime {

struct StagingOutcome {
    std::vector<std::string> problems;  // "host 'node2': copying '/data/x' failed: <rsync's last line>"
    std::vector<std::string> copied;    // "node2 <hash> <local path>" for each item sent this time
    bool ok() const { return problems.empty(); }
};

// Where rank 0's files come back to on this machine.
struct LocalFolders {
    std::string outputs;
    std::string logs;
    std::string checkpoints;
};

class HostStaging {
public:
    using Done = std::function<void(const StagingOutcome&)>;
    // How long one rsync or ssh may take before the host is given up on.
    static constexpr std::chrono::minutes kCommandLimit{30};

    // `hosts`: the job's hosts in rank order (per_host); with local_copy the workdir is
    // written here, once. `mode` none is not staged at all: do not make one.
    HostStaging(EventLoop& loop, HostsCompute compute, StagingMode mode, std::vector<std::string> hosts);
    ~HostStaging();
    HostStaging(const HostStaging&) = delete;
    HostStaging& operator=(const HostStaging&) = delete;

    // Hashes the request's files and fixes the layout. false with *error.
    bool prepare(const StagingRequest& request, std::string* error);
    const RemoteLayout& layout() const { return layout_; }

    // Before an attempt: what each host lacks, the attempt's folders, and `checkpoints`
    // (the local checkpoint folder, skipped when it does not exist) mirrored into every
    // host's checkpoint folder. `done` once, from the loop; it may destroy this.
    void push(const std::string& checkpoints, Done done);
    // After an attempt: rank 0's host's outputs and logs added into `into`'s folders, and
    // its checkpoint folder mirrored into `into.checkpoints`.
    void pull(const LocalFolders& into, Done done);
    bool busy() const { return static_cast<bool>(done_); }

private:
    struct Step {
        std::vector<std::string> argv;
        std::string what;                                  // "copying '/data/x'", for the message
        std::function<void(const CommandResult&)> after;   // on success; may queue more steps
    };
    struct Target {
        explicit Target(EventLoop& loop) : run(loop) {}
        std::string host;  // "" for this machine
        CommandRun run;
        std::deque<Step> steps;
        bool done = false;
    };

    void begin(std::vector<std::string> hosts, Done done);
    void queue_copies(Target& target, const std::vector<std::string>& present, const std::string& checkpoints);
    void next(Target& target);
    std::string label(const Target& target) const;
    void finish_if_done();

    EventLoop& loop_;
    HostsCompute compute_;
    StagingMode mode_;
    std::vector<std::string> hosts_;
    std::vector<StagedItem> items_;
    RemoteLayout layout_;
    std::vector<std::unique_ptr<Target>> targets_;
    StagingOutcome outcome_;
    Done done_;
    EventLoop::TimerId finish_timer_ = 0;
};

}  // namespace amlflow::runtime
