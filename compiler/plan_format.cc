// The plan's four forms: JSON (the contract with the runtime), text (for people), DOT
// (Graphviz) and Mermaid (Markdown documents).
#include "compiler/plan.h"

#include "compiler/json_text.h"
#include "compiler/plan_step.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <unordered_map>

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

void write_plan_json(const Plan& plan, std::ostream& stream) {
    // The keys in the order nlohmann writes an object's: byte order.
    const auto& quoted = quoted_json;
    std::string out = "{\n  \"amlflow_plan\": 1,\n  \"computes\": ";
    json_text::append_pretty(out, compact_json(plan.computes), 1);
    out += ",\n  \"edges\": ";
    if (plan.edges.empty()) out += "[]";
    for (size_t i = 0; i < plan.edges.size(); ++i) {
        const PlanEdge& edge = plan.edges[i];
        out += i == 0 ? "[\n" : ",\n";
        out += "    {\n      \"from\": " + quoted(edge.from) + ",\n      \"kind\": " + quoted(edge.kind) +
               ",\n      \"to\": " + quoted(edge.to) + "\n    }";
        if (out.size() > (1u << 16)) {
            stream << out;
            out.clear();
        }
    }
    if (!plan.edges.empty()) out += "\n  ]";
    out += ",\n  \"file\": " + quoted(plan.file) + ",\n  \"nodes\": ";
    if (plan.nodes.empty()) out += "[]";
    for (size_t i = 0; i < plan.nodes.size(); ++i) {
        const PlanNode& node = plan.nodes[i];
        out += i == 0 ? "[\n    {\n" : ",\n    {\n";
        if (!node.experiment.empty()) out += "      \"experiment\": " + quoted(node.experiment) + ",\n";
        out += "      \"hash\": " + quoted(node.hash) + ",\n      \"id\": " + quoted(node.id) + ",\n      \"kind\": " +
               quoted(node.kind) + ",\n      \"name\": " + quoted(node.name) + ",\n      \"spec\": ";
        json_text::append_pretty(out, node.spec_text, 3);
        out += "\n    }";
        stream << out;
        out.clear();
    }
    if (!plan.nodes.empty()) out += "\n  ]";
    out += ",\n  \"params\": ";
    json_text::append_pretty(out, compact_json(plan.params), 1);
    out += ",\n  \"workspaces\": ";
    json_text::append_pretty(out, compact_json(plan.workspaces), 1);
    out += "\n}";
    stream << out;
}

namespace {

std::string short_hash(const std::string& hash) { return hash.substr(0, 12); }

// Values as a person reads them: paths and references by name, objects as written. Read
// from the spec's JSON text in place (json_text.h).
std::string show_json(std::string_view value) {
    namespace jt = json_text;
    if (jt::is_object(value)) {
        // Its '$' members, read in one pass: they come first (keys are in byte order).
        std::optional<std::string_view> path, ref, output, param, ms, bytes, format, kind;
        jt::each_member(value, [&](std::string_view key, std::string_view item) {
            if (key.size() < 2 || key[1] != '$') return;
            std::string_view name = key.substr(2, key.size() - 3);
            if (name == "path") path = item;
            else if (name == "ref") ref = item;
            else if (name == "output") output = item;
            else if (name == "param") param = item;
            else if (name == "duration_ms") ms = item;
            else if (name == "bytes") bytes = item;
            else if (name == "format") format = item;
            else if (name == "kind") kind = item;
        });
        if (path) return jt::string_of(*path);
        if (ref) {
            std::string id = jt::string_of(*ref);
            return id.substr(id.find(':') + 1);
        }
        if (output) {
            std::string text = jt::string_of(jt::member(*output, "step").value_or("\"\""));
            jt::each_item(jt::member(*output, "result").value_or("[]"), [&](std::string_view result) {
                text += "." + jt::string_of(result);
            });
            std::string under = jt::string_of(jt::member(*output, "path").value_or("\"\""));
            if (!under.empty()) text += "/" + under;
            return text;
        }
        if (param) return "<" + jt::string_of(*param) + ">";
        if (ms) return std::to_string(std::stoll(std::string(*ms)) / 1000) + "s";
        if (bytes) return std::to_string(std::stoll(std::string(*bytes))) + "B";
        if (format) {
            std::string text;
            jt::each_item(*format, [&](std::string_view part) {
                text += jt::is_string(part) ? jt::string_of(part) : "${" + show_json(part) + "}";
            });
            return "\"" + text + "\"";
        }
        std::string out = kind ? jt::string_of(*kind) + " " : "";
        std::string fields;
        jt::each_member(value, [&](std::string_view key, std::string_view item) {
            if (key != "\"$kind\"") fields += (fields.empty() ? "" : ", ") + jt::string_of(key) + " = " + show_json(item);
        });
        return fields.empty() ? out + "{}" : out + "{ " + fields + " }";
    }
    if (jt::is_array(value)) {
        std::string out;
        jt::each_item(value, [&](std::string_view item) { out += (out.empty() ? "" : ", ") + show_json(item); });
        return "[" + out + "]";
    }
    if (jt::is_string(value)) return jt::string_of(value);
    return std::string(value);  // a number, true, false or null: as nlohmann dumped it
}

// A value of the plan's own JSON (params), shown as a spec's value is.
std::string show_json(const json& value) { return show_json(std::string_view(compact_json(value))); }

// The steps each step waits for, by node id: one pass over the edges, not one per node.
std::unordered_map<std::string, std::vector<std::string>> needs_by_node(const Plan& plan) {
    std::unordered_map<std::string, std::vector<std::string>> needs;
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
    std::unordered_map<std::string, std::vector<std::string>> waits = needs_by_node(plan);
    std::unordered_map<std::string, std::string> compute_kinds;  // by id: read once, not per step
    for (const auto& [id, compute] : plan.computes.items()) compute_kinds[id] = compute.value("$kind", "");
    std::vector<std::pair<std::string, std::string_view>> members;  // of the node's spec
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
        members.clear();
        json_text::each_member(node.spec_text, [&](std::string_view quoted, std::string_view value) {
            members.emplace_back(json_text::string_of(quoted), value);
        });
        auto has = [&](const std::string& key) {
            return std::any_of(members.begin(), members.end(), [&](const auto& m) { return m.first == key; });
        };
        for (const auto& [key, value] : members) {
            if (key == "$template") {
                out += "   template: " + json_text::string_of(json_text::member(value, "name").value_or("\"\"")) + "\n";
                continue;
            }
            if (key == "$compute") {
                // Where it runs, with the compute's kind: as written, or as --compute placed it.
                std::string id = json_text::string_of(value);
                auto known = compute_kinds.find(id);
                const std::string& kind = known != compute_kinds.end() ? known->second : "";
                std::string name = id.substr(id.find(':') + 1);
                if (name == "(local)") name = "this machine";  // the built-in compute: no declaration
                out += "   compute: " + name + (kind.empty() ? "" : " (" + kind + ")") + "\n";
                continue;
            }
            std::string label = key[0] == '$' ? key.substr(1) : key;
            if (key == "compute" && has("$compute")) continue;  // shown with its kind
            if (key[0] == '$' && has(label)) continue;  // the field says it already
            std::string shown;
            if (key[0] == '$') {
                std::string id = json_text::string_of(value);
                shown = id.substr(id.find(':') + 1);
            } else {
                shown = show_json(value);
            }
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
