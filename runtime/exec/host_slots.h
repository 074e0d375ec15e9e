// The slots of `hosts` computes, shared by the jobs that run there at once (sweep trials
// above all): a job takes processes_per_node slots on each of `nodes` hosts, the first
// hosts in list order that have them free, and its attempt is placed on exactly those hosts
// (its compute's host list is narrowed to them). As for local slots, a job larger than the
// compute still runs, alone, rather than never: its backend then says why it cannot.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace amlflow::runtime {

class HostSlots {
public:
    // Whether a job of this shape could take its hosts now.
    bool available(const std::string& compute_id, const nlohmann::json& compute, int nodes, int per_node) const;
    // Takes them: the hosts' indexes in the list, in rank order.
    std::vector<size_t> take(const std::string& compute_id, const nlohmann::json& compute, int nodes, int per_node);
    void release(const std::string& compute_id, const std::vector<size_t>& hosts, int per_node);

    // The compute with its host list narrowed to `hosts`, each with the job's slots.
    static nlohmann::json placed(const nlohmann::json& compute, const std::vector<size_t>& hosts, int per_node);

private:
    struct Pool {
        std::vector<int> free;  // per host, in list order
        int held = 0;           // jobs holding slots here
    };
    Pool& pool(const std::string& compute_id, const nlohmann::json& compute) const;
    std::optional<std::vector<size_t>> find(const Pool& pool, int nodes, int per_node) const;

    mutable std::map<std::string, Pool> pools_;  // made on first use
};

}  // namespace amlflow::runtime
