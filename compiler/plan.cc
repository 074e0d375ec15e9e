#include "compiler/plan.h"

#include <map>
#include <queue>
#include <set>
#include <unordered_map>

#include "compiler/checker.h"
#include "compiler/plan_step.h"
#include "compiler/schema.h"
#include "compiler/sha256.h"
#include "compiler/source_tree.h"

namespace amlflow::compiler {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string hash_json(const json& value) { return sha256_hex(compact_json(value)); }

// The text a step's hash is taken of: the JSON object of its kind, its rendered fields and
// the hashes of the nodes it needs, written as nlohmann's dump writes an object (keys in
// byte order, compact), so the hashes are the ones the plan has always had.
class HashedStep {
public:
    void add(const std::string& key, std::string json_text) { parts_[key] = std::move(json_text); }
    void add_string(const std::string& key, const std::string& text) { parts_[key] = quoted_json(text); }
    std::string hash() const {
        std::string text = "{";
        for (const auto& [key, value] : parts_) {
            if (text.size() > 1) text += ',';
            text += quoted_json(key);
            text += ':';
            text += value;
        }
        return sha256_hex(text + "}");
    }

private:
    std::map<std::string, std::string> parts_;
};

// Steps in dependency order, file order among equals: Kahn's algorithm with the ready
// steps in a queue ordered by their place in the file, so a chain written consumers
// first costs no more than one written producers first.
std::vector<CheckedStep*> dependency_order(CheckedProgram& program) {
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < program.steps.size(); ++i) index[program.steps[i].name] = i;
    std::vector<size_t> waiting(program.steps.size(), 0);
    std::vector<std::vector<size_t>> dependents(program.steps.size());
    for (size_t i = 0; i < program.steps.size(); ++i) {
        const CheckedStep& step = program.steps[i];
        std::set<std::string> deps = step.data_inputs;
        deps.insert(step.after.begin(), step.after.end());
        for (const std::string& dep : deps) {
            auto found = index.find(dep);
            if (found == index.end()) continue;
            ++waiting[i];
            dependents[found->second].push_back(i);
        }
    }
    std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;
    for (size_t i = 0; i < waiting.size(); ++i) {
        if (waiting[i] == 0) ready.push(i);
    }
    std::vector<CheckedStep*> order;
    while (!ready.empty()) {
        size_t next = ready.top();
        ready.pop();
        order.push_back(&program.steps[next]);
        for (size_t dependent : dependents[next]) {
            if (--waiting[dependent] == 0) ready.push(dependent);
        }
    }
    return order;  // steps on a cycle (reported by the checker) are left out
}

}  // namespace

Plan build_plan(CheckedProgram program, Diagnostics& diagnostics) {
    Plan plan;
    plan.file = fs::path(program.main_path).filename().string();
    plan.params = json::object();
    for (const auto& [name, value] : program.params) plan.params[name] = value_to_json(value);
    plan.workspaces = json::object();
    for (const CheckedDecl& ws : program.workspaces) plan.workspaces[ws.id] = fields_json(ws.fields);
    plan.computes = json::object();
    for (const CheckedDecl& compute : program.computes) {
        json entry = fields_json(compute.fields);
        entry["$kind"] = compute.subkind;
        plan.computes[compute.id] = entry;
    }

    std::map<std::string, const CheckedDecl*> compute_of;  // the declared computes, by id
    for (const CheckedDecl& compute : program.computes) {
        if (compute.range.valid()) compute_of[compute.id] = &compute;
    }
    std::unordered_map<std::string, std::string> hash_of;
    // One source node per folder and `source_include` list: the same folder narrowed
    // differently is a different snapshot.
    std::map<std::pair<std::string, std::vector<std::string>>, std::string> sources;
    for (const CheckedStep& step : program.steps) {
        if (!step.source_folder.empty() && (step.kind == ast::StepKind::Job || step.kind == ast::StepKind::Sweep)) {
            sources.emplace(std::make_pair(step.source_folder, step.source_include), "");
        }
    }
    for (auto& [key, id] : sources) {
        const auto& [folder, include] = key;
        std::string error;
        auto digest = digest_source_tree(program.folder / folder, &error, include);
        if (!digest) {
            diagnostics.error("missing-file", {}, "cannot snapshot source folder '" + folder + "': " + error);
            continue;
        }
        std::string name = source_node_name(folder, include);
        id = "source:" + name;
        json spec = {{"path", folder}, {"files", digest->files.size()}, {"bytes", digest->total_bytes},
                     {"ignore_file", digest->ignore_origin}};
        if (!include.empty()) spec["include"] = include;
        PlanNode node{id, "source", name, "", compact_json(spec), digest->hash};
        hash_of[node.id] = node.hash;
        plan.nodes.push_back(std::move(node));
    }
    for (const CheckedDecl& env : program.environments) {
        json spec = fields_json(env.fields);
        PlanNode node{env.id, "environment", env.name, "", compact_json(spec), ""};
        node.hash = hash_json(hashed_fields(spec, schema::environment()));
        hash_of[node.id] = node.hash;
        plan.nodes.push_back(std::move(node));
    }
    for (CheckedStep* step : dependency_order(program)) {
        render_step(*step);  // frees its values: the program shrinks as the plan grows
        RenderedStep& rendered = *step->rendered;
        PlanNode node{"step:" + step->name, step_kind_word(step->kind), step->name, step->experiment,
                      std::move(rendered.spec), ""};
        HashedStep hashed;
        hashed.add_string("kind", node.kind);
        hashed.add("fields", hashed_members(node.spec_text, step_schema(step->kind)));
        if (step->kind == ast::StepKind::Sweep && !step->template_name.empty()) {
            hashed.add("template", std::move(rendered.hashed_template));
            hashed.add("template_params", std::move(rendered.template_params));
        }
        if (!step->environment_id.empty()) {
            plan.edges.push_back({step->environment_id, node.id, "environment"});
            hashed.add_string("environment", hash_of[step->environment_id]);
        }
        auto source = sources.find(std::make_pair(step->source_folder, step->source_include));
        if (!step->source_folder.empty() && source != sources.end() && !source->second.empty()) {
            plan.edges.push_back({source->second, node.id, "source"});
            hashed.add_string("source", hash_of[source->second]);
        }
        // Where a job runs is part of what its result is: a result is reused only from the
        // compute it was asked to run on (`--compute` elsewhere runs it again). The
        // compute's identity enters the hash, not its fields (hosts, ssh options, sizes).
        // A job that names no compute runs on this machine, with no compute in its hash.
        if (auto placed = compute_of.find(step->compute_id); placed != compute_of.end()) {
            hashed.add("compute", compact_json({{"name", placed->second->name}, {"kind", placed->second->subkind}}));
        }
        for (const std::string& input : step->data_inputs) {
            std::string from = "step:" + input;
            plan.edges.push_back({from, node.id, "data"});
            hashed.add_string("input:" + from, hash_of[from]);
        }
        for (const std::string& before : step->after) plan.edges.push_back({"step:" + before, node.id, "after"});
        node.hash = hashed.hash();
        hash_of[node.id] = node.hash;
        step->rendered.reset();
        plan.nodes.push_back(std::move(node));
    }
    return plan;
}

}  // namespace amlflow::compiler

namespace amlflow::compiler {

nlohmann::json PlanNode::spec() const { return json::parse(spec_text); }

}  // namespace amlflow::compiler
