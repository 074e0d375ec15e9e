// This machine as the hosts see it: the address the ranks' shims connect back to, and the
// network Open MPI's TCP traffic is kept to. Both follow the compute's `interface` when it
// names one; otherwise the address is the one this machine's routing uses toward the first host.
#pragma once

#include <string>

#include "runtime/core/host_list.h"

namespace amlflow::runtime {

// An IPv4 address of this machine; "" with *error (and a hint) when none can be told.
// `first_address`: the first host's address as ssh reached it ("" when unknown).
std::string supervisor_address(const HostsCompute& compute, const std::string& first_address, std::string* error);

// The job's network as a CIDR for Open MPI ("10.0.0.0/24"): the interface's CIDR itself, or
// the network of this machine's NIC of that name; "" when the compute names none.
std::string network_of(const HostsCompute& compute);

}  // namespace amlflow::runtime
