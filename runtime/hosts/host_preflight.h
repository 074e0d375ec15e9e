// Before any rank of a `hosts` job starts: can every host of the job run it? One ssh round
// trip per host, all hosts at once, on the supervisor's event loop (preflight_script.h says
// what the script asks). The answer is one message per problem, each naming the host
// ("host 'node2' (10.0.0.12): no package 'torch' for /usr/bin/python3"), so a user fixes
// every host at once instead of meeting the first problem as a traceback from rank 5:
//   - it cannot be reached (ssh's last line: refused, no route, permission denied);
//   - it has no Open MPI, or another version than this machine's `mpirun` (computed once);
//   - no interpreter at `python` there, or one that does not run;
//   - a `pip` requirement of the environment is not installed for that interpreter;
//   - fewer GPUs than the job asks per host, or fewer slots (from the host list) than its
//     processes per node. Fewer cores than ranks is only a warning: they share.
// A host's "all installed" answer is cached in <cache>/host-packages.json per host,
// interpreter and requirement list, with the stat identity of what it rests on; the next
// preflight sends that identity along and the host answers from `stat` alone while it
// holds (still one round trip, no Python started).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/core/event_loop.h"
#include "runtime/hosts/command_run.h"
#include "runtime/core/host_list.h"
#include "runtime/hosts/preflight_script.h"

namespace amlflow::runtime {

struct PreflightRequest {
    int nodes = 1;                          // the job runs on the first `nodes` hosts
    int processes_per_node = 1;
    int gpus_per_host = 0;                  // GPUs the job needs on each host; 0: none
    std::string python;                     // the compute's `python`, else the environment's
    std::vector<std::string> requirements;  // the environment's `pip` list, as written
    std::filesystem::path cache;            // folder of host-packages.json; empty: no cache
    std::chrono::seconds limit{60};         // per host, for the whole round trip
    int master_port = 0;                    // the rendezvous port wanted on the first host; 0: none
};

// What the backend may use of a host that answered.
struct HostFacts {
    std::string host;                 // as listed
    std::string address;              // as ssh reached it (or resolved it), "" when unknown
    bool reachable = false;
    std::string hostname;             // what the host calls itself
    std::string ompi_version;
    int cores = 0;
    std::vector<HostGpuFact> gpus;    // nvidia-smi's, in its order; empty without one
    std::string python;               // the interpreter's path there
    std::string python_version;       // "" when answered from the cache
    bool packages_from_cache = false;
    int free_port = 0;                // the first host: master_port if free there, else one that is
};

struct PreflightReport {
    std::vector<HostFacts> hosts;       // the job's hosts, in rank order
    std::vector<std::string> problems;  // each names its host; any one stops the job
    std::vector<std::string> warnings;
    std::string local_ompi_version;     // "" when this machine has none
    bool ok() const { return problems.empty(); }
};

// How many GPUs per host a compute's `gpus` field asks for: a count, or enough for the
// highest index listed; "all" and "none" ask for none in particular.
int gpus_asked(const nlohmann::json& gpus);

class HostPreflight {
public:
    using Done = std::function<void(const PreflightReport&)>;

    HostPreflight(EventLoop& loop, HostsCompute compute, PreflightRequest request);
    ~HostPreflight();
    HostPreflight(const HostPreflight&) = delete;
    HostPreflight& operator=(const HostPreflight&) = delete;

    // Asks every host (and, once per process, this machine's Open MPI version); `done` is
    // called once, from the loop, with the report. It may destroy this.
    void start(Done done);
    bool finished() const { return finished_; }
    const PreflightReport& report() const { return report_; }

private:
    struct HostCheck;

    void ask_host(size_t index);
    void answered(size_t index, CommandResult result);
    void unreachable(size_t index, const std::string& said);
    void judge(size_t index, const PreflightAnswer& answer);
    void maybe_finish();
    std::string cache_key(const std::string& host) const;

    EventLoop& loop_;
    HostsCompute compute_;
    PreflightRequest request_;
    std::vector<std::string> names_;  // requirement names
    std::vector<std::unique_ptr<HostCheck>> checks_;
    std::unique_ptr<CommandRun> local_ompi_;
    std::optional<std::string> local_version_;
    nlohmann::json cache_;
    bool cache_changed_ = false;
    PreflightReport report_;
    Done done_;
    bool finished_ = false;
    EventLoop::TimerId finish_timer_ = 0;
};

}  // namespace amlflow::runtime
