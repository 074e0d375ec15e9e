// The plan graph: the one contract between the compiler and the runtime. A node for
// every step and for every source snapshot and environment a step needs; edges from
// references (data), `after` (order only), and to environments and sources. Every node
// has a content hash of everything that decides its result, so that the runtime can
// reuse results and the hash is the same on every machine for the same inputs.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compiler/checked_program.h"
#include "compiler/diagnostics.h"

namespace amlflow::compiler {

struct PlanNode {
    std::string id;          // "step:train", "environment:torch", "source:pytorch-birds"
    std::string kind;        // job, sweep, register, export, download, environment, source
    std::string name;        // as written: "train", "curated.pytorch_1_6_gpu", "pytorch-birds"
    std::string experiment;  // steps only
    // The evaluated fields (docs/plan-format.md) as compact JSON: a large plan's specs held
    // as text take a twelfth of the memory of JSON objects. spec() parses it.
    std::string spec_text;
    std::string hash;        // sha256 hex

    nlohmann::json spec() const;
};

struct PlanEdge {
    std::string from;  // the node that must come first
    std::string to;
    std::string kind;  // data | after | environment | source
};

struct Plan {
    std::string file;  // the main file's name
    nlohmann::json params;
    nlohmann::json workspaces;
    nlohmann::json computes;
    std::vector<PlanNode> nodes;  // sources, environments, then steps in dependency order
    std::vector<PlanEdge> edges;
};

// Reports a source folder that cannot be hashed (unreadable files) as a diagnostic.
// Takes the program: a step not rendered yet (render_step, plan_step.h) is rendered
// and its evaluated fields freed as soon as its node is built, so a large program and its
// plan are never held at once. A plan built while diagnostics got an error is not one to
// use (a step whose source could not be snapshotted still links to its source's node).
Plan build_plan(CheckedProgram program, Diagnostics& diagnostics);

nlohmann::json plan_to_json(const Plan& plan);
// plan_to_json(plan).dump(2) written a node at a time from the specs' text, never parsed:
// `plan --format json` of a large plan in a fraction of the time and memory.
void write_plan_json(const Plan& plan, std::ostream& stream);
std::string plan_to_text(const Plan& plan);
void write_plan_text(const Plan& plan, std::ostream& stream);  // as plan_to_text, a node at a time
std::string plan_to_dot(const Plan& plan);
std::string plan_to_mermaid(const Plan& plan);

}  // namespace amlflow::compiler
