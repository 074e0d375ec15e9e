// This machine's IPv4 networks, as its NICs have them: which NIC holds an address in a
// CIDR ("10.0.0.0/24"), or a NIC by name. One matching for the supervisor (the address the
// hosts' shims connect back to, hosts/local_address.h) and for the shim on each host (the
// NIC gloo and NCCL talk on), so both read a compute's `interface` alike.
#pragma once

#include <netinet/in.h>

#include <optional>
#include <string>

namespace amlflow::runtime {

struct Ipv4Network {
    in_addr address{}, mask{};
};

// "10.0.0.0/24" -> its address and mask; nullopt when it is not an IPv4 CIDR.
std::optional<Ipv4Network> parse_cidr(const std::string& cidr);

// A NIC of this machine and its IPv4 address and mask there.
struct LocalNic {
    std::string name;
    Ipv4Network network;
};

// The first NIC with an IPv4 address inside `cidr`; nullopt when none (or `cidr` is not one).
std::optional<LocalNic> local_nic_in(const std::string& cidr);

// The NIC called `name` with its first IPv4 address; nullopt when it has none.
std::optional<LocalNic> local_nic_named(const std::string& name);

// "10.0.0.7".
std::string ipv4_text(in_addr address);

// 24 for 255.255.255.0.
int prefix_length(in_addr mask);

}  // namespace amlflow::runtime
