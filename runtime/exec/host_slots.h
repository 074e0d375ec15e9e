// The slots of `hosts` computes, shared by the jobs that run there at once (sweep trials
// above all): a job takes processes_per_node slots on each of `nodes` hosts, the first
// hosts in list order that have them free, and its attempt is placed on exactly those hosts
// (its compute's host list is narrowed to them, with the slots it holds on each, so a host's
// GPUs are shared out by slot: two trials on one host get disjoint GPUs). As for local
// slots, a job larger than the compute still runs, alone, rather than never: its backend
// then says why it cannot.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace amlflow::runtime {

class HostSlots {
public:
    struct Taken {
        size_t host = 0;         // the host's index in the compute's list
        std::vector<int> slots;  // the slots held there, by index
    };

    // Whether a job of this shape could take its hosts now.
    bool available(const std::string& compute_id, const nlohmann::json& compute, int nodes, int per_node) const;
    // Takes them, in rank order; empty for a job larger than the compute.
    std::vector<Taken> take(const std::string& compute_id, const nlohmann::json& compute, int nodes, int per_node);
    void release(const std::string& compute_id, const std::vector<Taken>& taken);

    // The compute with its host list narrowed to `taken`, each with the job's slots, and
    // "$slots": the slot indexes held on each (runtime/hosts: the GPUs they stand for).
    static nlohmann::json placed(const nlohmann::json& compute, const std::vector<Taken>& taken, int per_node);

private:
    struct Pool {
        std::vector<std::vector<bool>> busy;  // per host, per slot
        int held = 0;                         // jobs holding slots here
    };
    Pool& pool(const std::string& compute_id, const nlohmann::json& compute) const;
    std::optional<std::vector<size_t>> find(const Pool& pool, int nodes, int per_node) const;

    mutable std::map<std::string, Pool> pools_;  // made on first use
};

}  // namespace amlflow::runtime
