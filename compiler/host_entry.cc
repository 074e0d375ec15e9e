#include "compiler/host_entry.h"

#include <algorithm>
#include <cctype>

namespace amlflow::compiler {

namespace {

// The runtime's cap on one host's slots: more is a typo, not a machine.
constexpr int64_t kMaxSlots = 100000;

bool all_digits(const std::string& text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

}  // namespace

HostEntryProblem parse_host_entry(const std::string& text, int64_t fallback, HostEntry& out) {
    out = HostEntry{text, fallback};
    bool bracketed = !text.empty() && text.front() == '[';
    size_t colon = text.rfind(':');
    if (!bracketed && colon != std::string::npos && text.find(':') != colon) {
        // "fe80::1": the last ':' would be read as the slot separator.
        return {"host '" + text + "' looks like an IPv6 address without brackets",
                "write it in brackets, \"[" + text + "]\", or \"[" + text + "]:4\" with slots"};
    }
    if (colon != std::string::npos && (!bracketed || (colon > 0 && text[colon - 1] == ']'))) {
        std::string count = text.substr(colon + 1);
        bool valid = all_digits(count) && count.size() <= 6 && std::stoll(count) >= 1 &&
                     std::stoll(count) <= kMaxSlots;
        if (!valid) {
            return {"host '" + text + "' has no valid slot count after ':'",
                    "write \"name:N\" with N a whole number from 1 to " + std::to_string(kMaxSlots) +
                        ", or leave ':N' out to use 'slots'"};
        }
        out.name = text.substr(0, colon);
        out.slots = std::stoll(count);
        out.own_slots = true;
    }
    if (bracketed) {
        if (out.name.size() < 2 || out.name.back() != ']') {
            return {"host '" + text + "' opens a '[' it does not close", "an IPv6 address is written \"[fe80::1]\""};
        }
        out.name = out.name.substr(1, out.name.size() - 2);
    }
    if (out.name.empty()) return {"host '" + text + "' names no machine", "write a host name or address, e.g. \"node1:4\""};
    if (std::any_of(out.name.begin(), out.name.end(), [](unsigned char c) { return std::isspace(c); })) {
        return {"host '" + text + "' has a space in its name", "a host is one name or address, e.g. \"node1:4\""};
    }
    return {};
}

bool same_host(const std::string& a, const std::string& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
               return std::tolower(x) == std::tolower(y);
           });
}

}  // namespace amlflow::compiler
