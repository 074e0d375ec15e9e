#include "runtime/exec/host_slots.h"

#include "runtime/core/host_list.h"

namespace amlflow::runtime {

using nlohmann::json;

HostSlots::Pool& HostSlots::pool(const std::string& compute_id, const json& compute) const {
    auto found = pools_.find(compute_id);
    if (found != pools_.end()) return found->second;
    Pool pool;
    std::string ignored;
    if (auto hosts = hosts_compute_from(compute, &ignored)) {
        for (const HostEntry& host : hosts->hosts) pool.free.push_back(host.slots);
    }
    return pools_.emplace(compute_id, std::move(pool)).first->second;
}

std::optional<std::vector<size_t>> HostSlots::find(const Pool& pool, int nodes, int per_node) const {
    std::vector<size_t> chosen;
    for (size_t i = 0; i < pool.free.size() && static_cast<int>(chosen.size()) < nodes; ++i) {
        if (pool.free[i] >= per_node) chosen.push_back(i);
    }
    if (static_cast<int>(chosen.size()) < nodes) return std::nullopt;
    return chosen;
}

bool HostSlots::available(const std::string& compute_id, const json& compute, int nodes, int per_node) const {
    Pool& here = pool(compute_id, compute);
    return find(here, nodes, per_node).has_value() || here.held == 0;
}

std::vector<size_t> HostSlots::take(const std::string& compute_id, const json& compute, int nodes, int per_node) {
    Pool& here = pool(compute_id, compute);
    ++here.held;
    auto chosen = find(here, nodes, per_node);
    if (!chosen) return {};  // too large for the compute: runs alone, on the whole list
    for (size_t i : *chosen) here.free[i] -= per_node;
    return *chosen;
}

void HostSlots::release(const std::string& compute_id, const std::vector<size_t>& hosts, int per_node) {
    auto found = pools_.find(compute_id);
    if (found == pools_.end()) return;
    Pool& here = found->second;
    if (here.held > 0) --here.held;
    for (size_t i : hosts) {
        if (i < here.free.size()) here.free[i] += per_node;
    }
}

json HostSlots::placed(const json& compute, const std::vector<size_t>& hosts, int per_node) {
    if (hosts.empty()) return compute;
    std::string ignored;
    auto parsed = hosts_compute_from(compute, &ignored);
    if (!parsed) return compute;
    json out = compute;
    json list = json::array();
    for (size_t i : hosts) {
        const HostEntry& host = parsed->hosts[i];
        bool ipv6 = host.name.find(':') != std::string::npos;
        list.push_back((ipv6 ? "[" + host.name + "]" : host.name) + ":" + std::to_string(per_node));
    }
    out["hosts"] = list;
    return out;
}

}  // namespace amlflow::runtime
