// One entry of a hosts compute's `hosts` list, "name[:slots]": the one reading of it, for
// the checker and the runtime alike (runtime/core/host_list.cc), so the checker refuses
// what the runtime would, and the capacity check counts the same slots the runtime gives
// each host.
#pragma once

#include <cstdint>
#include <string>

namespace amlflow::compiler {

struct HostEntry {
    std::string name;        // without brackets: "node1", "fe80::1"
    int64_t slots = 1;
    bool own_slots = false;  // the entry gives its own ":N"
};

// What is wrong with an entry, as a message and a hint (both empty when it is right).
struct HostEntryProblem {
    std::string message;
    std::string help;
};

// "node1:4" -> {node1, 4}; "node1" -> {node1, fallback}; "[fe80::1]:2" for IPv6.
HostEntryProblem parse_host_entry(const std::string& text, int64_t fallback, HostEntry& out);

// The same machine under the same name, whatever the case: "Node1" and "node1".
bool same_host(const std::string& a, const std::string& b);

}  // namespace amlflow::compiler
