// The one `mpirun` of an attempt on a hosts compute (DESIGN §5): every rank placed exactly,
// through Open MPI's own ssh launcher configured with the user's ssh set-up, each rank being
// amlflow's shim, which connects back for its program.
#pragma once

#include <string>
#include <vector>

#include "runtime/core/host_list.h"

namespace amlflow::runtime {

struct HostsLaunchShape {
    int nodes = 1;              // the first `nodes` hosts of the list take part
    int processes_per_node = 1; // ranks on each of them (1 for a per-node launch)
    std::string shim;           // amlflow-rank's path on the hosts
    std::string step;           // shown in `ps` on the hosts
    std::string subnet;         // the job's network as a CIDR for Open MPI's TCP; empty: any
};

// mpirun --host h1:P,h2:P -np N·P --map-by ppr:P:node: Open MPI's default by-slot
// mapping would fill the first host's slots first; this puts exactly P ranks on each of
// the first N hosts, in the listed order, so MPI rank r runs on host r / P.
std::vector<std::string> hosts_mpirun_argv(const HostsCompute& compute, const HostsLaunchShape& shape);

}  // namespace amlflow::runtime
