#include "runtime/exec/host_slots.h"

#include <algorithm>

#include "runtime/core/host_list.h"

namespace amlflow::runtime {

using nlohmann::json;

namespace {

int free_slots(const std::vector<bool>& busy) { return static_cast<int>(std::count(busy.begin(), busy.end(), false)); }

}  // namespace

HostSlots::Pool& HostSlots::pool(const std::string& compute_id, const json& compute) const {
    auto found = pools_.find(compute_id);
    if (found != pools_.end()) return found->second;
    Pool pool;
    std::string ignored;
    if (auto hosts = hosts_compute_from(compute, &ignored)) {
        for (const HostEntry& host : hosts->hosts) pool.busy.emplace_back(static_cast<size_t>(host.slots), false);
    }
    return pools_.emplace(compute_id, std::move(pool)).first->second;
}

std::optional<std::vector<size_t>> HostSlots::find(const Pool& pool, int nodes, int per_node) const {
    std::vector<size_t> chosen;
    for (size_t i = 0; i < pool.busy.size() && static_cast<int>(chosen.size()) < nodes; ++i) {
        if (free_slots(pool.busy[i]) >= per_node) chosen.push_back(i);
    }
    if (static_cast<int>(chosen.size()) < nodes) return std::nullopt;
    return chosen;
}

bool HostSlots::available(const std::string& compute_id, const json& compute, int nodes, int per_node) const {
    Pool& here = pool(compute_id, compute);
    return find(here, nodes, per_node).has_value() || here.held == 0;
}

std::vector<HostSlots::Taken> HostSlots::take(const std::string& compute_id, const json& compute, int nodes,
                                              int per_node) {
    Pool& here = pool(compute_id, compute);
    ++here.held;
    auto chosen = find(here, nodes, per_node);
    if (!chosen) return {};  // too large for the compute: runs alone, on the whole list
    std::vector<Taken> taken;
    for (size_t host : *chosen) {
        Taken one{host, {}};
        std::vector<bool>& busy = here.busy[host];
        for (size_t slot = 0; slot < busy.size() && static_cast<int>(one.slots.size()) < per_node; ++slot) {
            if (!busy[slot]) {
                busy[slot] = true;
                one.slots.push_back(static_cast<int>(slot));
            }
        }
        taken.push_back(std::move(one));
    }
    return taken;
}

void HostSlots::release(const std::string& compute_id, const std::vector<Taken>& taken) {
    auto found = pools_.find(compute_id);
    if (found == pools_.end()) return;
    Pool& here = found->second;
    if (here.held > 0) --here.held;
    for (const Taken& one : taken) {
        if (one.host >= here.busy.size()) continue;
        for (int slot : one.slots) {
            if (slot >= 0 && static_cast<size_t>(slot) < here.busy[one.host].size()) here.busy[one.host][static_cast<size_t>(slot)] = false;
        }
    }
}

json HostSlots::placed(const json& compute, const std::vector<Taken>& taken, int per_node) {
    if (taken.empty()) return compute;
    std::string ignored;
    auto parsed = hosts_compute_from(compute, &ignored);
    if (!parsed) return compute;
    json out = compute;
    json list = json::array(), slots = json::array();
    for (const Taken& one : taken) {
        const HostEntry& host = parsed->hosts[one.host];
        bool ipv6 = host.name.find(':') != std::string::npos;
        list.push_back((ipv6 ? "[" + host.name + "]" : host.name) + ":" + std::to_string(per_node));
        slots.push_back(one.slots);
    }
    out["hosts"] = list;
    out["$slots"] = slots;
    return out;
}

}  // namespace amlflow::runtime
