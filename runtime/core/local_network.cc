#include "runtime/core/local_network.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <sys/socket.h>

#include <cstdlib>

namespace amlflow::runtime {

namespace {

// The first IPv4 address of this machine that `pick` accepts, with its NIC and netmask.
template <typename Pick>
std::optional<LocalNic> find_local(Pick pick) {
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return std::nullopt;
    std::optional<LocalNic> found;
    for (ifaddrs* at = list; at && !found; at = at->ifa_next) {
        if (!at->ifa_addr || at->ifa_addr->sa_family != AF_INET || !at->ifa_netmask) continue;
        LocalNic candidate{at->ifa_name, {reinterpret_cast<sockaddr_in*>(at->ifa_addr)->sin_addr,
                                          reinterpret_cast<sockaddr_in*>(at->ifa_netmask)->sin_addr}};
        if (pick(candidate)) found = candidate;
    }
    freeifaddrs(list);
    return found;
}

}  // namespace

std::optional<Ipv4Network> parse_cidr(const std::string& cidr) {
    Ipv4Network network;
    size_t slash = cidr.find('/');
    if (slash == std::string::npos || inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &network.address) != 1) {
        return std::nullopt;
    }
    int bits = std::atoi(cidr.c_str() + slash + 1);
    if (bits < 0 || bits > 32) return std::nullopt;
    network.mask.s_addr = bits == 0 ? 0 : htonl(~uint32_t{0} << (32 - bits));
    return network;
}

std::optional<LocalNic> local_nic_in(const std::string& cidr) {
    auto network = parse_cidr(cidr);
    if (!network) return std::nullopt;
    uint32_t mask = network->mask.s_addr, base = network->address.s_addr & mask;
    return find_local([&](const LocalNic& nic) { return (nic.network.address.s_addr & mask) == base; });
}

std::optional<LocalNic> local_nic_named(const std::string& name) {
    return find_local([&](const LocalNic& nic) { return nic.name == name; });
}

std::string ipv4_text(in_addr address) {
    char text[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &address, text, sizeof text);
    return text;
}

int prefix_length(in_addr mask) { return __builtin_popcount(ntohl(mask.s_addr)); }

}  // namespace amlflow::runtime
