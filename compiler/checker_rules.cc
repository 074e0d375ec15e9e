// Rules across declarations: files that must exist, distributions the compute must
// hold, sweeps that must fit their template, and dependency cycles.
#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>

#include "compiler/checker.h"
#include "compiler/suggest.h"

namespace amlflow::compiler {

namespace fs = std::filesystem;

namespace {

int64_t int_field(const Value& fields, const char* name, int64_t fallback) {
    const Value* v = fields.field(name);
    return v && v->kind == ValueKind::Int ? v->number : fallback;
}

std::string plural(int64_t n, const char* word) {
    std::string w = word;
    if (n != 1) w += w.back() == 's' ? "es" : "s";
    return std::to_string(n) + " " + w;
}

}  // namespace

void Checker::check_job_files(const ast::Step& step, const CheckedStep& job) {
    const fs::path& root = modules_.modules[0]->folder;
    const ast::Member* source_member = find_member(step.block.get(), "source");
    fs::path source = root / job.source_folder;
    std::error_code error;
    const Value* source_value = job.fields.field("source");
    if (source_value && source_value->kind != ValueKind::Path) return;  // known only when it runs
    if (!fs::is_directory(source, error)) {
        SourceRange where = source_member ? source_member->value->range : step.name.range;
        diagnostics_.error("missing-file", where, "source folder '" + job.source_folder + "' does not exist")
            .note("looked for '" + source.lexically_normal().string() + "'");
        return;
    }
    const Value* script = job.fields.field("script");
    if (!script || script->kind != ValueKind::Path) return;
    fs::path file = source / script->text;
    if (!fs::is_regular_file(file, error)) {
        const ast::Member* where = find_member(step.block.get(), "script");
        Diagnostic& d = diagnostics_.error("missing-file", where ? where->value->range : step.name.range,
                                           "script '" + script->text + "' does not exist in '" + job.source_folder + "'");
        std::vector<std::string> scripts;
        for (const auto& entry : fs::directory_iterator(source, error)) {
            if (entry.path().extension() == ".py") scripts.push_back(entry.path().filename().string());
        }
        if (auto near = closest_name(script->text, scripts)) d.help("did you mean '" + *near + "'?");
        else d.note("looked for '" + file.lexically_normal().string() + "'");
    }
}

void Checker::check_capacity(const ast::Step& step, const CheckedStep& job) {
    const Value* distribution = job.fields.field("distribution");
    if (!distribution || distribution->kind != ValueKind::Object) return;
    auto found = computes_.find(job.compute_id);
    if (found == computes_.end()) return;
    const CheckedDecl& compute = found->second;
    int64_t nodes = int_field(*distribution, "nodes", 1);
    int64_t per_node = int_field(*distribution, "processes_per_node", 1);
    const ast::Member* member = find_member(step.block.get(), "distribution");
    SourceRange where = member ? member->value->range : step.name.range;
    std::string owner = "job '" + job.name + "'";
    std::string target = "compute '" + compute.name + "'";
    auto report = [&](const std::string& message, const std::string& detail) {
        diagnostics_.error("capacity", where, message).note(target + " " + detail, compute.range);
    };
    if (compute.subkind == "amlcompute") {
        int64_t max_nodes = int_field(compute.fields, "max_nodes", 1);
        if (nodes > max_nodes) {
            report(owner + " asks for " + plural(nodes, "node") + " but " + target + " scales to at most " +
                       std::to_string(max_nodes),
                   "is declared here; raise its max_nodes or lower the job's nodes");
        }
    } else if (compute.subkind == "hosts") {
        const Value* hosts = compute.fields.field("hosts");
        if (!hosts || hosts->kind != ValueKind::List) return;
        int64_t slots = int_field(compute.fields, "slots", 1);
        int64_t fewest = INT64_MAX;
        for (const Value& host : hosts->items) {
            size_t colon = host.text.rfind(':');
            int64_t host_slots = slots;
            if (colon != std::string::npos) host_slots = std::atoll(host.text.c_str() + colon + 1);
            fewest = std::min(fewest, host_slots);
        }
        int64_t count = static_cast<int64_t>(hosts->items.size());
        if (nodes > count) {
            report(owner + " asks for " + plural(nodes, "node") + " but " + target + " lists " + plural(count, "host"),
                   "is declared here");
        } else if (per_node > fewest) {
            report(owner + " runs " + plural(per_node, "process") + " per node but a host of " + target + " has " +
                       plural(fewest, "slot"),
                   "is declared here");
        }
    } else if (compute.subkind == "local") {
        const Value* gpus = compute.fields.field("gpus");
        int64_t count = -1;
        if (gpus && gpus->kind == ValueKind::Int) count = gpus->number;
        if (gpus && gpus->kind == ValueKind::List) count = static_cast<int64_t>(gpus->items.size());
        int64_t cpus = int_field(compute.fields, "cpus", -1);
        if (count > 0 && per_node > count) {
            report(owner + " runs " + plural(per_node, "process") + " per node but " + target + " has " + plural(count, "GPU"),
                   "is declared here; each rank takes one GPU");
        } else if (count <= 0 && cpus > 0 && per_node > cpus) {
            report(owner + " runs " + plural(per_node, "process") + " per node but " + target + " has " + plural(cpus, "CPU slot"),
                   "is declared here");
        }
    }
}

void Checker::check_sweep_space(const ast::Step& sweep, const ast::Step& job, const CheckedStep& out) {
    const Value* space = out.fields.field("space");
    const ast::Member* space_member = find_member(sweep.block.get(), "space");
    std::string owner = "sweep '" + sweep.name.name + "'";
    std::vector<std::string> params;
    for (const ast::JobParam& p : job.params) params.push_back(p.name.name);
    const Value* sampling = out.fields.field("sampling");
    bool grid = sampling && sampling->text == "grid";
    bool bayesian = sampling && sampling->text == "bayesian";
    if (space && space_member && space_member->block) {
        for (const ast::Member& m : space_member->block->members) {
            const Value* dist = space->field(m.key.name);
            const ast::JobParam* param = nullptr;
            for (const ast::JobParam& p : job.params) {
                if (p.name.name == m.key.name) param = &p;
            }
            if (param == nullptr) {
                Diagnostic& d = diagnostics_.error("search-space", m.key.range,
                                                   "job '" + job.name.name + "' has no parameter '" + m.key.name + "' to sweep");
                if (auto near = closest_name(m.key.name, params)) d.help("did you mean '" + *near + "'?");
                else d.note("its parameters are declared here", job.name.range);
                continue;
            }
            if (!dist) continue;
            const std::string& type = param->type.name.name;
            bool numeric_space = dist->text != "choice";
            if (numeric_space && type != "float" && !(type == "int" && (dist->text == "randint" || dist->text[0] == 'q'))) {
                diagnostics_.error("search-space", m.value->range,
                                   "parameter '" + m.key.name + "' is " + type + " but " + dist->text + "() draws " +
                                       (type == "int" ? "floats" : "numbers"))
                    .help(type == "int" ? "use choice(...), randint(n) or quniform(lo, hi, q)" : "use choice(...)");
            }
            if (dist->text == "choice") {
                auto spec = type_spec(param->type, false);
                for (const Value& option : dist->field("values")->items) {
                    std::string why;
                    if (spec && !coerce_to_field(option, *spec, &why)) {
                        diagnostics_.error("search-space", m.value->range,
                                           "parameter '" + m.key.name + "' is " + type + " but a choice is " + why);
                        break;
                    }
                }
            }
            if (grid && dist->text != "choice") {
                diagnostics_.error("search-space", m.value->range,
                                   "grid sampling needs choice(...) for every parameter; '" + m.key.name + "' uses " + dist->text + "()");
            }
        }
    }
    if (space) {
        for (const ast::JobParam& p : job.params) {
            if (!p.default_value && !space->field(p.name.name)) {
                diagnostics_.error("search-space", space_member ? space_member->key.range : sweep.name.range,
                                   owner + " does not sweep parameter '" + p.name.name + "', which has no default")
                    .note("declared here", p.name.range);
            }
        }
    }
    const Value* early = out.fields.field("early_stop");
    if (bayesian && early && early->kind == ValueKind::Object) {
        diagnostics_.error("invalid-value", find_member(sweep.block.get(), "early_stop")->value->range,
                           "bayesian sampling does not support early termination")
            .help("remove 'early_stop', or use random sampling");
    }
}

void Checker::check_sweep_objective(const ast::Step& sweep, const ast::Step& job, const CheckedStep& out) {
    const Value* objective = out.fields.field("objective");
    if (!objective || objective->kind != ValueKind::Object) return;
    const std::string& metric = objective->field("metric")->text;
    const ast::Member* where = find_member(sweep.block.get(), "objective");
    const Value* metrics = out.template_fields.field("metrics");
    if (metrics && metrics->kind == ValueKind::List) {
        std::vector<std::string> names;
        for (const Value& m : metrics->items) {
            if (m.text == metric) return;
            names.push_back(m.text);
        }
        Diagnostic& d = diagnostics_.error("objective", where->value->range,
                                           "objective metric '" + metric + "' is not among the metrics job '" + job.name.name + "' reports");
        if (auto near = closest_name(metric, names)) d.help("did you mean '" + *near + "'?");
        if (const ast::Member* declared = find_member(job.block.get(), "metrics")) d.note("its metrics are declared here", declared->value->range);
        return;
    }
    // No declared metrics: the script must at least mention the name it reports.
    const Value* script = out.template_fields.field("script");
    if (!script || script->kind != ValueKind::Path) return;
    fs::path file = modules_.modules[0]->folder / out.source_folder / script->text;
    std::ifstream in(file);
    if (!in) return;  // a missing script is reported on the job
    std::ostringstream text;
    text << in.rdbuf();
    std::string body = text.str();
    if (body.find("\"" + metric + "\"") != std::string::npos || body.find("'" + metric + "'") != std::string::npos) return;
    diagnostics_.error("objective", where->value->range,
                       "objective metric '" + metric + "' is never reported by job '" + job.name.name + "'")
        .note("'" + script->text + "' never names \"" + metric + "\"")
        .help("report it from the script, or declare what it reports: metrics = [\"" + metric + "\"]");
}

void Checker::check_cycles(const CheckedProgram& program) {
    std::map<std::string, const CheckedStep*> by_name;
    for (const CheckedStep& step : program.steps) by_name[step.name] = &step;
    std::map<std::string, int> state;  // 0 new, 1 on the path, 2 done
    // Depth-first with an explicit stack: a chain of 100,000 steps must not overflow.
    struct Frame {
        std::string name;
        std::vector<std::string> next;
        size_t at = 0;
    };
    auto frame_of = [&](const std::string& name) {
        const CheckedStep* step = by_name.at(name);
        std::set<std::string> next = step->data_inputs;
        next.insert(step->after.begin(), step->after.end());
        return Frame{name, std::vector<std::string>(next.begin(), next.end()), 0};
    };
    for (const CheckedStep& root : program.steps) {
        if (state[root.name] != 0) continue;
        std::vector<Frame> stack{frame_of(root.name)};
        state[root.name] = 1;
        while (!stack.empty()) {
            Frame& top = stack.back();
            if (top.at == top.next.size()) {
                state[top.name] = 2;
                stack.pop_back();
                continue;
            }
            std::string dep = top.next[top.at++];
            if (!by_name.count(dep)) continue;
            if (state[dep] == 1) {
                std::string chain;
                bool on = false;
                for (const Frame& frame : stack) {
                    on = on || frame.name == dep;
                    if (on) chain += frame.name + " -> ";
                }
                diagnostics_.error("cycle", by_name.at(dep)->range, "dependency cycle: " + chain + dep)
                    .help("a step cannot wait, directly or not, for its own results");
            } else if (state[dep] == 0) {
                state[dep] = 1;
                stack.push_back(frame_of(dep));
            }
        }
    }
}

}  // namespace amlflow::compiler
