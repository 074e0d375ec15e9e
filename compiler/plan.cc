#include "compiler/plan.h"

#include <map>
#include <queue>
#include <set>

#include "compiler/checker.h"
#include "compiler/schema.h"
#include "compiler/sha256.h"
#include "compiler/source_tree.h"

namespace amlflow::compiler {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* kind_word(ast::StepKind kind) {
    switch (kind) {
        case ast::StepKind::Job: return "job";
        case ast::StepKind::Sweep: return "sweep";
        case ast::StepKind::Register: return "register";
        case ast::StepKind::Export: return "export";
        case ast::StepKind::Download: return "download";
    }
    return "step";
}

json fields_json(const Value& fields) {
    json out = json::object();
    for (const auto& [key, value] : fields.fields) out[key] = value_to_json(value);
    return out;
}

// Only the fields that decide a step's result enter its hash: a new timeout or restart
// budget reuses the result; a new argument does not. Picked from the fields already
// rendered (`fields_json`), so each value is turned into JSON once.
json hashed_fields(const json& rendered, const BlockSpec& spec) {
    json out = json::object();
    for (const auto& [key, value] : rendered.items()) {
        const FieldSpec* field = spec.find(key);
        if (field && field->in_hash) out[key] = value;
    }
    return out;
}

std::string hash_json(const json& value) { return sha256_hex(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)); }

// Steps in dependency order, file order among equals: Kahn's algorithm with the ready
// steps in a queue ordered by their place in the file, so a chain written consumers
// first costs no more than one written producers first.
std::vector<CheckedStep*> dependency_order(CheckedProgram& program) {
    std::map<std::string, size_t> index;
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
    std::map<std::string, std::string> hash_of;
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
        std::string name = folder;
        if (!include.empty()) {
            name += " [";
            for (size_t i = 0; i < include.size(); ++i) name += (i ? ", " : "") + include[i];
            name += "]";
        }
        id = "source:" + name;
        PlanNode node{id, "source", name, "", json::object(), digest->hash};
        node.spec = {{"path", folder}, {"files", digest->files.size()}, {"bytes", digest->total_bytes},
                     {"ignore_file", digest->ignore_origin}};
        if (!include.empty()) node.spec["include"] = include;
        hash_of[node.id] = node.hash;
        plan.nodes.push_back(std::move(node));
    }
    for (const CheckedDecl& env : program.environments) {
        PlanNode node{env.id, "environment", env.name, "", fields_json(env.fields), ""};
        node.hash = hash_json(hashed_fields(node.spec, schema::environment()));
        hash_of[node.id] = node.hash;
        plan.nodes.push_back(std::move(node));
    }
    for (CheckedStep* step : dependency_order(program)) {
        PlanNode node{"step:" + step->name, kind_word(step->kind), step->name, step->experiment, fields_json(step->fields), ""};
        json hashed = {{"kind", node.kind}, {"fields", hashed_fields(node.spec, step_schema(step->kind))}};
        step->fields = Value{};  // rendered: freed now, so the program shrinks as the plan grows
        if (!step->template_name.empty()) {
            json params = json::object();
            for (const auto& [name, value] : step->params) params[name] = value_to_json(value);
            json tmpl = {{"name", step->template_name}};
            if (step->kind == ast::StepKind::Sweep) {
                json declared = json::array();
                for (const auto& param : step->template_params) {
                    json entry = {{"name", param.name}, {"type", param.type}};
                    if (param.default_value) entry["default"] = value_to_json(*param.default_value);
                    declared.push_back(entry);
                }
                tmpl["params"] = declared;
                tmpl["fields"] = fields_json(step->template_fields);
                hashed["template"] = hashed_fields(tmpl["fields"], schema::job());
                step->template_fields = Value{};
                hashed["template_params"] = declared;
            } else {
                tmpl["bound"] = params;
            }
            node.spec["$template"] = tmpl;
        }
        auto link = [&](const std::string& from, const std::string& kind, const char* field) {
            plan.edges.push_back({from, node.id, kind});
            if (field) node.spec[field] = from;
            hashed[kind == "data" ? "input:" + from : kind] = hash_of[from];
        };
        if (!step->environment_id.empty()) link(step->environment_id, "environment", "$environment");
        auto source = sources.find(std::make_pair(step->source_folder, step->source_include));
        if (!step->source_folder.empty() && source != sources.end() && !source->second.empty()) {
            link(source->second, "source", "$source");
        }
        if (!step->compute_id.empty()) node.spec["$compute"] = step->compute_id;
        // Where a job runs is part of what its result is: a result is reused only from the
        // compute it was asked to run on (`--compute` elsewhere runs it again). The
        // compute's identity enters the hash, not its fields (hosts, ssh options, sizes).
        // A job that names no compute runs on this machine, with no compute in its hash.
        if (auto placed = compute_of.find(step->compute_id); placed != compute_of.end()) {
            hashed["compute"] = {{"name", placed->second->name}, {"kind", placed->second->subkind}};
        }
        for (const std::string& input : step->data_inputs) link("step:" + input, "data", nullptr);
        for (const std::string& before : step->after) plan.edges.push_back({"step:" + before, node.id, "after"});
        node.hash = hash_json(hashed);
        hash_of[node.id] = node.hash;
        plan.nodes.push_back(std::move(node));
    }
    return plan;
}

}  // namespace amlflow::compiler
