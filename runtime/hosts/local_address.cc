#include "runtime/hosts/local_address.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace amlflow::runtime {

namespace {

struct Network {
    in_addr address{}, mask{};
};

bool parse_cidr(const std::string& cidr, Network* network) {
    size_t slash = cidr.find('/');
    if (slash == std::string::npos || inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &network->address) != 1) return false;
    int bits = std::atoi(cidr.c_str() + slash + 1);
    if (bits < 0 || bits > 32) return false;
    network->mask.s_addr = bits == 0 ? 0 : htonl(~uint32_t{0} << (32 - bits));
    return true;
}

std::string text_of(in_addr address) {
    char text[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &address, text, sizeof text);
    return text;
}

int prefix_of(in_addr mask) { return __builtin_popcount(ntohl(mask.s_addr)); }

// The first IPv4 address of this machine that `pick` accepts, with its netmask.
template <typename Pick>
bool find_local(Pick pick, Network* found) {
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return false;
    bool ok = false;
    for (ifaddrs* at = list; at && !ok; at = at->ifa_next) {
        if (!at->ifa_addr || at->ifa_addr->sa_family != AF_INET || !at->ifa_netmask) continue;
        Network candidate{reinterpret_cast<sockaddr_in*>(at->ifa_addr)->sin_addr,
                          reinterpret_cast<sockaddr_in*>(at->ifa_netmask)->sin_addr};
        if (pick(at->ifa_name, candidate)) {
            *found = candidate;
            ok = true;
        }
    }
    freeifaddrs(list);
    return ok;
}

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
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0) address = text_of(local.sin_addr);
    }
    if (fd >= 0) close(fd);
    freeaddrinfo(found);
    return address;
}

}  // namespace

std::string supervisor_address(const HostsCompute& compute, const std::string& first_address, std::string* error) {
    const std::string& interface = compute.interface;
    Network network, local;
    if (is_cidr(interface)) {
        if (parse_cidr(interface, &network) &&
            find_local([&](const char*, const Network& at) {
                return (at.address.s_addr & network.mask.s_addr) == (network.address.s_addr & network.mask.s_addr);
            }, &local)) {
            return text_of(local.address);
        }
        *error = "this machine has no address in " + interface + ", the network compute '" + compute.compute +
                 "' names as its interface: the hosts' ranks could not reach amlflow";
        return "";
    }
    if (!interface.empty() &&
        find_local([&](const char* name, const Network&) { return interface == name; }, &local)) {
        return text_of(local.address);
    }
    std::string address = route_toward(first_address.empty() ? compute.hosts[0].name : first_address);
    if (!address.empty()) return address;
    *error = "cannot tell which address of this machine host '" + compute.hosts[0].name +
             "' reaches (the name does not resolve here); set 'interface' on compute '" + compute.compute +
             "' to the hosts' network, for example \"10.0.0.0/24\"";
    return "";
}

std::string network_of(const HostsCompute& compute) {
    Network network;
    bool known = is_cidr(compute.interface)
                     ? parse_cidr(compute.interface, &network)
                     : !compute.interface.empty() &&
                           find_local([&](const char* name, const Network&) { return compute.interface == name; }, &network);
    if (!known) return "";
    in_addr base{network.address.s_addr & network.mask.s_addr};
    return text_of(base) + "/" + std::to_string(prefix_of(network.mask));
}

}  // namespace amlflow::runtime
