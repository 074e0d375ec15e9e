// The runtime's view of a plan: read from the plan's JSON (docs/plan-format.md), the one
// contract with the compiler. The runtime never sees the parse tree or the checker's
// values; everything it needs is in here.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace amlflow::runtime {

struct StepPlan {
    std::string id;          // "step:train"
    std::string name;        // "train"
    std::string kind;        // job, sweep, register, export, download
    std::string experiment;
    std::string hash;
    nlohmann::json spec;     // the evaluated fields, `$`-encoded
    std::vector<std::string> needs;  // step ids that must finish first (data and after)
    std::string environment;         // environment node id, or empty
    std::string compute;             // compute id, or empty
    std::string source;              // source folder relative to the plan file's folder, or empty
};

struct RunPlan {
    std::string file;
    nlohmann::json params;
    std::map<std::string, nlohmann::json> environments;  // by id: their fields
    std::map<std::string, std::string> environment_hashes;  // by id
    std::map<std::string, std::string> source_hashes;       // by id: the snapshot digests as planned
    std::map<std::string, std::vector<std::string>> source_includes;  // by id: `source_include`, when given
    std::map<std::string, nlohmann::json> computes;      // by id: fields and $kind
    std::vector<StepPlan> steps;                         // dependencies first
    nlohmann::json raw;                                  // the whole plan, for the run store

    const StepPlan* find(const std::string& name_or_id) const;
    // A step's environment fields ({} when none) and compute fields (local when none).
    nlohmann::json environment_of(const StepPlan& step) const;
    nlohmann::json compute_of(const StepPlan& step) const;
};

// Reads a plan's JSON; nullopt with *error when it is not a plan amlflow understands.
std::optional<RunPlan> load_plan(const nlohmann::json& json, std::string* error);

// The distribution of a job: kind (none, pytorch, per_node, mpi) and its shape.
struct Distribution {
    std::string kind = "none";
    int nodes = 1;
    int processes_per_node = 1;
    int world_size() const { return nodes * processes_per_node; }
    // Processes another launcher starts per node: a per-node launch starts one, which
    // starts that node's ranks itself.
    int launched_per_node() const { return kind == "per_node" ? 1 : processes_per_node; }
    // Processes launched in all: one log each.
    int launched() const { return nodes * launched_per_node(); }
};
Distribution distribution_of(const nlohmann::json& spec);

// A duration field ({"$duration_ms": N}) in milliseconds, or `fallback` when absent.
int64_t duration_ms(const nlohmann::json& spec, const char* field, int64_t fallback);

}  // namespace amlflow::runtime
