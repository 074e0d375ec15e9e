#include "runtime/hosts/local_address.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "runtime/core/local_network.h"

namespace amlflow::runtime {

namespace {

// The source address this machine's routing picks for `host`: a UDP "connection" sends nothing.
std::string route_toward(const std::string& host) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), "9", &hints, &found) != 0 || !found) return "";
    std::string address;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, found->ai_addr, found->ai_addrlen) == 0) {
        sockaddr_in local{};
        socklen_t length = sizeof local;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0) address = ipv4_text(local.sin_addr);
    }
    if (fd >= 0) close(fd);
    freeaddrinfo(found);
    return address;
}

}  // namespace

std::string supervisor_address(const HostsCompute& compute, const std::string& first_address, std::string* error) {
    const std::string& interface = compute.interface;
    if (is_cidr(interface)) {
        if (auto nic = local_nic_in(interface)) return ipv4_text(nic->network.address);
        *error = "this machine has no address in " + interface + ", the network compute '" + compute.compute +
                 "' names as its interface: the hosts' ranks could not reach amlflow";
        return "";
    }
    if (!interface.empty()) {
        if (auto nic = local_nic_named(interface)) return ipv4_text(nic->network.address);
    }
    std::string address = route_toward(first_address.empty() ? compute.hosts[0].name : first_address);
    if (!address.empty()) return address;
    *error = "cannot tell which address of this machine host '" + compute.hosts[0].name +
             "' reaches (the name does not resolve here); set 'interface' on compute '" + compute.compute +
             "' to the hosts' network, for example \"10.0.0.0/24\"";
    return "";
}

std::string network_of(const HostsCompute& compute) {
    std::optional<Ipv4Network> network;
    if (is_cidr(compute.interface)) {
        network = parse_cidr(compute.interface);
    } else if (!compute.interface.empty()) {
        if (auto nic = local_nic_named(compute.interface)) network = nic->network;
    }
    if (!network) return "";
    in_addr base{network->address.s_addr & network->mask.s_addr};
    return ipv4_text(base) + "/" + std::to_string(prefix_length(network->mask));
}

}  // namespace amlflow::runtime
