// The plan's four forms: JSON (the contract with the runtime), text (for people), DOT
// (Graphviz) and Mermaid (Markdown documents).
#include "compiler/plan.h"

#include <map>
#include <sstream>

namespace amlflow::compiler {

using nlohmann::json;

json plan_to_json(const Plan& plan) {
    json nodes = json::array();
    for (const PlanNode& node : plan.nodes) {
        json entry = {{"id", node.id}, {"kind", node.kind}, {"name", node.name}, {"hash", node.hash}, {"spec", node.spec()}};
        if (!node.experiment.empty()) entry["experiment"] = node.experiment;
        nodes.push_back(entry);
    }
    json edges = json::array();
    for (const PlanEdge& edge : plan.edges) edges.push_back({{"from", edge.from}, {"to", edge.to}, {"kind", edge.kind}});
    return {{"amlflow_plan", 1},   {"file", plan.file},         {"params", plan.params},
            {"workspaces", plan.workspaces}, {"computes", plan.computes}, {"nodes", nodes},
            {"edges", edges}};
}

namespace {

std::string short_hash(const std::string& hash) { return hash.substr(0, 12); }

// Values as a person reads them: paths and references by name, objects as written.
std::string show_json(const json& value) {
    if (value.is_object()) {
        if (value.contains("$path")) return value["$path"].get<std::string>();
        if (value.contains("$ref")) {
            std::string id = value["$ref"].get<std::string>();
            return id.substr(id.find(':') + 1);
        }
        if (value.contains("$output")) {
            const json& out = value["$output"];
            std::string text = out["step"].get<std::string>();
            for (const json& member : out["result"]) text += "." + member.get<std::string>();
            if (!out["path"].get<std::string>().empty()) text += "/" + out["path"].get<std::string>();
            return text;
        }
        if (value.contains("$param")) return "<" + value["$param"].get<std::string>() + ">";
        if (value.contains("$duration_ms")) return std::to_string(value["$duration_ms"].get<int64_t>() / 1000) + "s";
        if (value.contains("$bytes")) return std::to_string(value["$bytes"].get<int64_t>()) + "B";
        if (value.contains("$format")) {
            std::string text;
            for (const json& part : value["$format"]) text += part.is_string() ? part.get<std::string>() : "${" + show_json(part) + "}";
            return "\"" + text + "\"";
        }
        std::string out = value.contains("$kind") ? value["$kind"].get<std::string>() + " " : "";
        std::string fields;
        for (const auto& [key, item] : value.items()) {
            if (key != "$kind") fields += (fields.empty() ? "" : ", ") + key + " = " + show_json(item);
        }
        return fields.empty() ? out + "{}" : out + "{ " + fields + " }";
    }
    if (value.is_array()) {
        std::string out;
        for (const json& item : value) out += (out.empty() ? "" : ", ") + show_json(item);
        return "[" + out + "]";
    }
    if (value.is_string()) return value.get<std::string>();
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The steps each step waits for, by node id: one pass over the edges, not one per node.
std::map<std::string, std::vector<std::string>> needs_by_node(const Plan& plan) {
    std::map<std::string, std::vector<std::string>> needs;
    for (const PlanEdge& edge : plan.edges) {
        if (edge.kind == "data" || edge.kind == "after") needs[edge.to].push_back(edge.from.substr(5));
    }
    return needs;
}

}  // namespace

std::string plan_to_text(const Plan& plan) {
    std::ostringstream text;
    write_plan_text(plan, text);
    return text.str();
}

// Written a node at a time: a large plan's text is never held whole.
void write_plan_text(const Plan& plan, std::ostream& stream) {
    std::string out = "plan for " + plan.file + "\n";
    if (!plan.params.empty()) {
        out += "params:";
        for (const auto& [name, value] : plan.params.items()) out += " " + name + "=" + show_json(value);
        out += "\n";
    }
    size_t number = 0;
    std::map<std::string, std::vector<std::string>> waits = needs_by_node(plan);
    for (const PlanNode& node : plan.nodes) {
        if (node.kind == "source" || node.kind == "environment") continue;
        out += "\n" + std::to_string(++number) + ". " + node.kind + " " + node.name;
        if (!node.experiment.empty()) out += "  (experiment " + node.experiment + ")";
        out += "  #" + short_hash(node.hash) + "\n";
        const std::vector<std::string>& needs = waits[node.id];
        if (!needs.empty()) {
            std::string list;
            for (const std::string& n : needs) list += (list.empty() ? "" : ", ") + n;
            out += "   after: " + list + "\n";
        }
        stream << out;
        out.clear();
        json spec = node.spec();
        for (const auto& [key, value] : spec.items()) {
            if (key == "$template") {
                out += "   template: " + value["name"].get<std::string>() + "\n";
                continue;
            }
            if (key == "$compute") {
                // Where it runs, with the compute's kind: as written, or as --compute placed it.
                std::string id = value.get<std::string>();
                std::string kind = plan.computes.contains(id) ? plan.computes[id].value("$kind", "") : "";
                std::string name = id.substr(id.find(':') + 1);
                if (name == "(local)") name = "this machine";  // the built-in compute: no declaration
                out += "   compute: " + name + (kind.empty() ? "" : " (" + kind + ")") + "\n";
                continue;
            }
            std::string label = key[0] == '$' ? key.substr(1) : key;
            if (key == "compute" && spec.contains("$compute")) continue;  // shown with its kind
            if (key[0] == '$' && spec.contains(label)) continue;  // the field says it already
            std::string shown = key[0] == '$' ? value.get<std::string>().substr(value.get<std::string>().find(':') + 1)
                                              : show_json(value);
            out += "   " + label + ": " + shown + "\n";
        }
    }
    out += "\n";
    for (const PlanNode& node : plan.nodes) {
        if (node.kind == "source") {
            size_t files = node.spec()["files"].get<size_t>();
            out += "source " + node.name + ": " + std::to_string(files) + (files == 1 ? " file  #" : " files  #") +
                   short_hash(node.hash) + "\n";
        } else if (node.kind == "environment") {
            out += "environment " + node.name + "  #" + short_hash(node.hash) + "\n";
        }
    }
    stream << out;
}

namespace {

std::string dot_id(const std::string& id) { return json(id).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::string node_label(const PlanNode& node) {
    if (node.kind == "source" || node.kind == "environment") return node.kind + "\\n" + node.name;
    return node.kind + "\\n" + node.name;
}

}  // namespace

std::string plan_to_dot(const Plan& plan) {
    std::string out = "digraph plan {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n";
    for (const PlanNode& node : plan.nodes) {
        std::string shape = node.kind == "source" ? "folder" : node.kind == "environment" ? "component" : "box";
        std::string style = node.kind == "source" || node.kind == "environment" ? ", style=dashed" : ", style=rounded";
        out += "  " + dot_id(node.id) + " [label=\"" + node_label(node) + "\", shape=" + shape + style + "];\n";
    }
    for (const PlanEdge& edge : plan.edges) {
        std::string attributes = edge.kind == "after" ? " [style=dashed, label=\"after\"]"
                               : edge.kind == "data" ? "" : " [color=gray]";
        out += "  " + dot_id(edge.from) + " -> " + dot_id(edge.to) + attributes + ";\n";
    }
    return out + "}\n";
}

namespace {

std::string mermaid_id(const std::string& id) {
    std::string out;
    for (char c : id) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return out;
}

}  // namespace

std::string plan_to_mermaid(const Plan& plan) {
    std::string out = "flowchart LR\n";
    for (const PlanNode& node : plan.nodes) {
        std::string label = node.kind + " " + node.name;
        bool support = node.kind == "source" || node.kind == "environment";
        out += "  " + mermaid_id(node.id) + (support ? "[(\"" : "[\"") + label + (support ? "\")]" : "\"]") + "\n";
    }
    for (const PlanEdge& edge : plan.edges) {
        std::string arrow = edge.kind == "after" ? " -.-> " : edge.kind == "data" ? " --> " : " --- ";
        out += "  " + mermaid_id(edge.from) + arrow + mermaid_id(edge.to) + "\n";
    }
    return out;
}

}  // namespace amlflow::compiler
