#include "runtime/report/report_svg.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <map>
#include <sstream>

#include "runtime/report/html_text.h"

namespace amlflow::runtime {

using nlohmann::json;

std::string svg_number(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", value);
    return text;
}

int root_rank(const ReportAttempt& attempt) {
    const json& failure = attempt.failure;
    if (!failure.is_object() || !failure.contains("rank") || !failure["rank"].is_number_integer()) return -1;
    return failure["rank"].get<int>();
}

std::string rank_state(const RankRecord& rank, const ReportAttempt& attempt) {
    bool group_stop = rank.signal == SIGTERM || rank.signal == SIGKILL;
    if (group_stop && attempt.record.state != AttemptState::Running && rank.global_rank != root_rank(attempt)) {
        return "stopped";
    }
    if (rank.signal > 0 || rank.exit_code > 0) return "failed";
    if (rank.exit_code == 0) return "succeeded";
    // No exit recorded: still running, or stopped with the group when the attempt ended.
    return attempt.record.state == AttemptState::Running ? "running" : to_string(attempt.record.state);
}

namespace {

// --- the plan graph ---------------------------------------------------------------------

constexpr double kBoxW = 180, kBoxH = 46, kColumnGap = 64, kRowGap = 18, kPad = 16;
constexpr size_t kMaxGraphNodes = 1500;

std::string num(double value) { return svg_number(value); }

struct GraphNode {
    std::string id, kind, name;
    int layer = 0;
    double x = 0, y = 0;
    std::vector<size_t> preds;
};

struct GraphEdge {
    size_t from, to;
    std::string kind;
};

std::string shorten(const std::string& text, size_t width) {
    if (text.size() <= width) return text;
    size_t cut = width - 1;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // whole UTF-8 characters
    return text.substr(0, cut) + "\u2026";
}

// Longest path from the nodes without predecessors (Kahn's order). Nodes left on a cycle,
// which a valid plan never has, stay in layer 0 rather than loop.
void assign_layers(std::vector<GraphNode>& nodes, const std::vector<GraphEdge>& edges) {
    std::vector<int> pending(nodes.size(), 0);
    std::vector<std::vector<size_t>> next(nodes.size());
    for (const GraphEdge& edge : edges) {
        ++pending[edge.to];
        next[edge.from].push_back(edge.to);
    }
    std::vector<size_t> ready;
    for (size_t i = 0; i < nodes.size(); ++i) {
        if (pending[i] == 0) ready.push_back(i);
    }
    while (!ready.empty()) {
        size_t at = ready.back();
        ready.pop_back();
        for (size_t to : next[at]) {
            nodes[to].layer = std::max(nodes[to].layer, nodes[at].layer + 1);
            if (--pending[to] == 0) ready.push_back(to);
        }
    }
}

// Places each layer in a column, ordered by the mean row of its predecessors (one sweep of
// the barycentre heuristic: few crossings for the shapes plans have), columns centred.
std::pair<double, double> place(std::vector<GraphNode>& nodes) {
    int layers = 0;
    for (const GraphNode& node : nodes) layers = std::max(layers, node.layer + 1);
    std::vector<std::vector<size_t>> columns(layers);
    for (size_t i = 0; i < nodes.size(); ++i) columns[nodes[i].layer].push_back(i);
    std::vector<double> row(nodes.size(), 0);
    size_t tallest = 0;
    for (auto& column : columns) {
        std::vector<double> key(nodes.size(), 0);
        for (size_t i : column) {
            double sum = 0;
            for (size_t p : nodes[i].preds) sum += row[p];
            key[i] = nodes[i].preds.empty() ? 0 : sum / nodes[i].preds.size();
        }
        std::stable_sort(column.begin(), column.end(), [&](size_t a, size_t b) { return key[a] < key[b]; });
        for (size_t r = 0; r < column.size(); ++r) row[column[r]] = static_cast<double>(r);
        tallest = std::max(tallest, column.size());
    }
    double height = kPad * 2 + tallest * kBoxH + (tallest ? tallest - 1 : 0) * kRowGap;
    for (size_t c = 0; c < columns.size(); ++c) {
        double used = columns[c].size() * kBoxH + (columns[c].size() - 1) * kRowGap;
        for (size_t r = 0; r < columns[c].size(); ++r) {
            GraphNode& node = nodes[columns[c][r]];
            node.x = kPad + c * (kBoxW + kColumnGap);
            node.y = (height - used) / 2 + r * (kBoxH + kRowGap);
        }
    }
    double width = kPad * 2 + layers * kBoxW + (layers ? layers - 1 : 0) * kColumnGap;
    return {width, height};
}

std::string node_svg(const GraphNode& node, const std::map<std::string, const ReportStep*>& steps) {
    bool is_step = node.id.rfind("step:", 0) == 0;
    std::string state = "none", tip = node.id;
    if (is_step) {
        auto found = steps.find(node.name);
        state = found == steps.end() ? "not-run" : to_string(found->second->record.state);
        tip += " (" + node.kind + "): " + (found == steps.end() ? "not run" : state);
        if (found != steps.end() && !found->second->record.cached_from.empty()) {
            tip += " from run " + found->second->record.cached_from;
        }
    }
    std::ostringstream out;
    out << "<g class=\"graph-node " << (is_step ? "graph-step " + state_class(state) : "graph-input") << "\">"
        << "<title>" << html_escape(tip) << "</title>"
        << "<rect x=\"" << num(node.x) << "\" y=\"" << num(node.y) << "\" width=\"" << num(kBoxW)
        << "\" height=\"" << num(kBoxH) << "\" rx=\"7\"/>"
        << "<text class=\"graph-kind\" x=\"" << num(node.x + 10) << "\" y=\"" << num(node.y + 17) << "\">"
        << html_escape(node.kind + (is_step && state != "none" ? " \u00b7 " + state : "")) << "</text>"
        << "<text class=\"graph-name\" x=\"" << num(node.x + 10) << "\" y=\"" << num(node.y + 35) << "\">"
        << html_escape(shorten(node.name, 22)) << "</text></g>";
    return out.str();
}

std::string edge_svg(const GraphNode& from, const GraphNode& to, const std::string& kind) {
    double x1 = from.x + kBoxW, y1 = from.y + kBoxH / 2, x2 = to.x - 3, y2 = to.y + kBoxH / 2;
    double bend = std::max(24.0, (x2 - x1) / 2);
    std::string safe_kind = kind == "data" || kind == "after" || kind == "source" || kind == "environment" ? kind : "other";
    return "<path class=\"graph-edge edge-" + safe_kind + "\" marker-end=\"url(#arrow)\" d=\"M" + num(x1) + " " +
           num(y1) + " C" + num(x1 + bend) + " " + num(y1) + " " + num(x2 - bend) + " " + num(y2) + " " + num(x2) +
           " " + num(y2) + "\"><title>" + html_escape(from.id + " \u2192 " + to.id + " (" + kind + ")") +
           "</title></path>";
}

}  // namespace

std::string plan_graph_svg(const ReportData& data) {
    if (!data.plan.is_object() || !data.plan.contains("nodes") || !data.plan["nodes"].is_array()) {
        return "<p class=\"note\">The stored plan could not be read.</p>";
    }
    std::vector<GraphNode> nodes;
    std::map<std::string, size_t> index;
    for (const json& item : data.plan["nodes"]) {
        if (!item.is_object() || !item.contains("id") || !item["id"].is_string()) continue;
        GraphNode node;
        node.id = item["id"].get<std::string>();
        json kind = item.value("kind", json()), name = item.value("name", json());
        node.kind = kind.is_string() ? kind.get<std::string>() : "";
        node.name = name.is_string() && !name.get<std::string>().empty() ? name.get<std::string>() : node.id;
        if (index.emplace(node.id, nodes.size()).second) nodes.push_back(std::move(node));
    }
    if (nodes.size() > kMaxGraphNodes) {
        return "<p class=\"note\">The plan has " + std::to_string(nodes.size()) +
               " nodes, too many to draw; <code>amlflow plan FILE --format dot</code> gives it to Graphviz.</p>";
    }
    std::vector<GraphEdge> edges;
    const json& raw_edges = data.plan.contains("edges") ? data.plan["edges"] : json();
    for (const json& item : raw_edges.is_array() ? raw_edges : json::array()) {
        if (!item.is_object() || !item.value("from", json()).is_string() || !item.value("to", json()).is_string()) continue;
        auto from = index.find(item["from"].get<std::string>());
        auto to = index.find(item["to"].get<std::string>());
        if (from == index.end() || to == index.end() || from->second == to->second) continue;
        json kind = item.value("kind", json());
        edges.push_back({from->second, to->second, kind.is_string() ? kind.get<std::string>() : ""});
        nodes[to->second].preds.push_back(from->second);
    }
    assign_layers(nodes, edges);
    auto [width, height] = place(nodes);
    std::map<std::string, const ReportStep*> steps;
    for (const ReportStep& step : data.steps) steps[step.record.name] = &step;
    std::ostringstream out;
    out << "<svg class=\"plan-graph\" width=\"" << num(width) << "\" height=\""
        << num(height) << "\" viewBox=\"0 0 " << num(width) << " " << num(height) << "\">"
        << "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" "
           "markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0 0 L10 5 L0 10 z\" class=\"arrow-head\"/>"
           "</marker></defs>";
    for (const GraphEdge& edge : edges) out << edge_svg(nodes[edge.from], nodes[edge.to], edge.kind);
    for (const GraphNode& node : nodes) out << node_svg(node, steps);
    out << "</svg>";
    return out.str();
}

}  // namespace amlflow::runtime
