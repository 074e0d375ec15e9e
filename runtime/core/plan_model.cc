#include "runtime/core/plan_model.h"

namespace amlflow::runtime {

using nlohmann::json;

const StepPlan* RunPlan::find(const std::string& name_or_id) const {
    for (const StepPlan& step : steps) {
        if (step.name == name_or_id || step.id == name_or_id) return &step;
    }
    return nullptr;
}

json RunPlan::environment_of(const StepPlan& step) const {
    auto found = environments.find(step.environment);
    return found != environments.end() ? found->second : json::object();
}

json RunPlan::compute_of(const StepPlan& step) const {
    auto found = computes.find(step.compute);
    return found != computes.end() ? found->second : json{{"$kind", "local"}};
}

namespace {

std::string string_or_empty(const json& object, const char* key) {
    auto found = object.find(key);
    return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

}  // namespace

std::optional<RunPlan> load_plan(const json& plan_json, std::string* error) {
    if (!plan_json.is_object() || plan_json.value("amlflow_plan", 0) != 1) {
        *error = "not an amlflow plan (version 1)";
        return std::nullopt;
    }
    RunPlan plan;
    plan.raw = plan_json;
    plan.file = plan_json.value("file", "");
    plan.params = plan_json.value("params", json::object());
    const json computes = plan_json.value("computes", json::object());  // items() needs a live object
    for (const auto& [id, compute] : computes.items()) plan.computes[id] = compute;
    std::map<std::string, std::vector<std::string>> needs;
    for (const json& edge : plan_json.value("edges", json::array())) {
        std::string kind = string_or_empty(edge, "kind");
        if (kind == "data" || kind == "after") needs[string_or_empty(edge, "to")].push_back(string_or_empty(edge, "from"));
    }
    std::map<std::string, std::string> source_paths;  // by id; sources come before steps
    for (const json& node : plan_json.value("nodes", json::array())) {
        std::string kind = string_or_empty(node, "kind");
        std::string id = string_or_empty(node, "id");
        if (kind == "environment") {
            plan.environments[id] = node.value("spec", json::object());
            plan.environment_hashes[id] = string_or_empty(node, "hash");
            continue;
        }
        if (kind == "source") {
            plan.source_hashes[id] = string_or_empty(node, "hash");
            const json spec = node.value("spec", json::object());
            source_paths[id] = string_or_empty(spec, "path");
            if (spec.contains("include") && spec["include"].is_array()) {
                std::vector<std::string>& include = plan.source_includes[id];
                for (const json& pattern : spec["include"]) {
                    if (pattern.is_string()) include.push_back(pattern.get<std::string>());
                }
            }
            continue;
        }
        StepPlan step;
        step.id = id;
        step.name = string_or_empty(node, "name");
        step.kind = kind;
        step.experiment = string_or_empty(node, "experiment");
        step.hash = string_or_empty(node, "hash");
        step.spec = node.value("spec", json::object());
        step.needs = needs[id];
        step.environment = string_or_empty(step.spec, "$environment");
        step.compute = string_or_empty(step.spec, "$compute");
        // The folder is the source node's `path`; its id names the folder only when the
        // job keeps every file (`source:src`, not `source:src [*.py]`).
        std::string source = string_or_empty(step.spec, "$source");
        auto path = source_paths.find(source);
        step.source = path != source_paths.end() && !path->second.empty() ? path->second
                    : source.rfind("source:", 0) == 0 ? source.substr(7) : source;
        if (step.id.empty() || step.name.empty()) {
            *error = "a plan node has no id or name";
            return std::nullopt;
        }
        plan.steps.push_back(std::move(step));
    }
    return plan;
}

Distribution distribution_of(const json& spec) {
    Distribution d;
    auto found = spec.find("distribution");
    if (found == spec.end()) return d;
    if (found->is_string()) {
        d.kind = found->get<std::string>();
        return d;
    }
    if (!found->is_object()) return d;
    d.kind = found->value("$kind", "none");
    d.nodes = found->value("nodes", 1);
    d.processes_per_node = found->value("processes_per_node", 1);
    return d;
}

int64_t duration_ms(const json& spec, const char* field, int64_t fallback) {
    auto found = spec.find(field);
    if (found == spec.end() || !found->is_object() || !found->contains("$duration_ms")) return fallback;
    return (*found)["$duration_ms"].get<int64_t>();
}

}  // namespace amlflow::runtime
