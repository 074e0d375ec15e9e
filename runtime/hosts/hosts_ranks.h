// The ranks of one attempt on hosts, as the shims receive them: each rank's launch planned
// as locally (core/job_launch.h) but with the paths valid on its host — the staged snapshot,
// helper and inputs, the attempt's folders under the compute's workdir — and the facts only
// the hosts know (MASTER_ADDR as the first host answered, the job's network).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runtime/core/backend.h"
#include "runtime/core/job_launch.h"
#include "runtime/core/shim_group.h"
#include "runtime/core/host_list.h"
#include "runtime/hosts/staging_layout.h"

namespace amlflow::runtime {

struct HostsRankContext {
    const HostsCompute* compute = nullptr;
    std::vector<std::string> hosts;      // the job's hosts, in rank order
    std::vector<std::string> addresses;  // as the preflight reached them ("" unknown)
    int master_port = 0;                 // free on the first host, as its preflight said; 0: as asked
    int per_host = 1;                    // ranks on each host (1 for a per-node launch)
    const RemoteLayout* layout = nullptr;  // null: the hosts see this machine's paths
    // Per host, the CUDA_VISIBLE_DEVICES its ranks get (every rank of a host sees the job's
    // GPUs there, as torchrun's do); nullopt: none set, the host's own environment decides
    // (a host without GPUs, or a file that set the variable itself).
    std::vector<std::optional<std::string>> gpus;
    bool file_sets_gpus = false;  // the file's variables name CUDA_VISIBLE_DEVICES: as written
};

// Which of each host's GPUs (as the preflight found them, nvidia-smi's PCI order) a job
// gets under the compute's `gpus` (all, none, a count, indexes); `file_sets_them`: the
// file's variables name CUDA_VISIBLE_DEVICES, which then stays as written. `slots`: per
// host, the slots the job holds there (jobs sharing a host: a sweep's trials), each
// standing for the granted GPU of its index, so they get disjoint GPUs; empty: all of them.
std::vector<std::optional<std::string>> gpus_by_host(const nlohmann::json& gpus,
                                                     const std::vector<std::vector<int>>& found, bool file_sets_them,
                                                     const std::vector<std::vector<int>>& slots = {});

// Local paths the job's arguments name outside its snapshot (another step's outputs, a
// folder given as a path): what must travel to hosts without this machine's disk.
std::vector<std::string> job_inputs(const AttemptRequest& request);

// The request with the paths a rank on a host must see (`layout` null: unchanged) and its
// interpreter; MASTER_ADDR is the first host's name until rank_plan_for adds the facts.
AttemptRequest request_on_hosts(const AttemptRequest& request, const HostsRankContext& context);

// Every launch with local input paths turned into their staged places.
void relocate_inputs(std::vector<ProcessLaunch>& launches, const RemoteLayout& layout);

// What the shim of `hello` runs, or nullopt with *why (a rank Open MPI placed elsewhere):
// its launch with the hosts' facts in `context` (MASTER_ADDR, MASTER_PORT, GPUs).
std::optional<ShimRankPlan> rank_plan_for(const ShimHello& hello, const std::vector<ProcessLaunch>& launches,
                                          const HostsRankContext& context, const AttemptRequest& local,
                                          const std::string& cwd, std::string* why);

}  // namespace amlflow::runtime
