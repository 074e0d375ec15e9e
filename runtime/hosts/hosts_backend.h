// The backend for a `hosts` compute (DESIGN §5): one `mpirun` per attempt starts amlflow's
// rank shim on every host through Open MPI's ssh launcher; each shim connects back to this
// machine for its rank's program and environment and streams the rank's output, metrics and
// exit over a connection of its own. Supervision is ShimGroup's, as for a local `mpi` job:
// live per-rank logs (host and rank in the label), root cause, stop of the whole group,
// timeouts, hangs, and a host that falls silent.
//
// A rank's identity comes from its place: with `--map-by ppr:P:node` over the listed hosts,
// MPI rank r runs on host r / P as local rank r % P, so NODE_RANK is the host's index in
// the list and MASTER_ADDR the first host.
//
// An attempt goes: check the hosts (host_preflight.h) → copy the job's files where the hosts
// do not share this machine's disk (host_staging.h) → the ranks (ShimGroup) → rank 0's files
// back. A stop at any point ends it; every end is reported once.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/backend.h"
#include "runtime/core/event_loop.h"
#include "runtime/core/log_relay.h"
#include "runtime/core/shim_group.h"
#include "runtime/core/job_launch.h"
#include "runtime/hosts/host_preflight.h"
#include "runtime/hosts/hosts_ranks.h"

namespace amlflow::runtime {

struct HostsBackendOptions {
    std::string launcher;                          // amlflow-launch, for mpirun's parent-death signal
    std::string shim;                              // amlflow-rank on this machine
    std::map<std::string, std::string> base_env;   // amlflow's own environment: mpirun's
    std::string run_store_folder;                  // hosts see it unless their compute says otherwise
    std::string cache_folder;                      // where host checks are remembered
    EventLoop::Clock::duration grace = std::chrono::seconds(5);
};

class HostsBackend : public Backend {
public:
    HostsBackend(EventLoop& loop, HostsBackendOptions options, LineSink* sink);
    ~HostsBackend() override;

    int process_count(const StepPlan& step) const override;
    // Every attempt checks its hosts first (host_preflight.h).
    bool checks_first(const StepPlan&) const override { return true; }
    void start(const AttemptRequest& request, AttemptCallbacks callbacks) override;
    void stop_all(const std::string& why, bool immediately) override;
    void stop(const std::string& step, const std::string& why) override;
    bool running(const std::string& step) const override;

private:
    struct Attempt;
    void check_hosts(Attempt& attempt);
    void stage_files(Attempt& attempt);
    bool plan_ranks(Attempt& attempt, std::string* error);
    void add_facts(Attempt& attempt);
    // `address`: this machine's as the hosts reach it, when already known.
    void start_launcher(Attempt& attempt, std::string address = "");
    void open_ranks(Attempt& attempt);
    void bring_back(const std::string& step, AttemptResult result);
    void stop_attempt(Attempt& attempt, EventLoop::Clock::duration grace, const std::string& why);
    void finish(const std::string& step, const AttemptResult& result);
    void fail_setup(const std::string& step, const std::string& message);

    EventLoop& loop_;
    HostsBackendOptions options_;
    LineSink* sink_;
    std::map<std::string, std::unique_ptr<Attempt>> running_;
    std::vector<std::unique_ptr<Attempt>> finished_;  // destroyed outside their callbacks
    std::vector<std::unique_ptr<HostPreflight>> finished_preflights_;
};

}  // namespace amlflow::runtime
