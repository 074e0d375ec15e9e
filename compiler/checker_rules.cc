// Rules across declarations: files that must exist, sweeps that must fit their template,
// and dependency cycles. What a compute can hold and run is in checker_capacity.cc.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <sstream>

#include "compiler/checker.h"
#include "compiler/source_tree.h"
#include "compiler/suggest.h"

namespace amlflow::compiler {

namespace fs = std::filesystem;

namespace {

// Whether `name` occurs in `text` as a whole word: quoted ("val_loss"), a keyword
// argument (val_loss=...) or part of a longer string ("val_loss/epoch") all count.
bool names_word(const std::string& text, const std::string& name) {
    auto is_word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    if (name.empty()) return false;
    for (size_t at = text.find(name); at != std::string::npos; at = text.find(name, at + 1)) {
        bool starts = at == 0 || !is_word(text[at - 1]) || !is_word(name.front());
        size_t end = at + name.size();
        bool ends = end == text.size() || !is_word(text[end]) || !is_word(name.back());
        if (starts && ends) return true;
    }
    return false;
}

}  // namespace

void Checker::check_job_files(const ast::Step& step, const CheckedStep& job) {
    const fs::path& root = modules_.modules[0]->folder;
    const ast::Member* source_member = find_member(step.block.get(), "source");
    fs::path source = root / job.source_folder;
    std::error_code error;
    const Value* source_value = job.fields.field("source");
    if (source_value && source_value->kind != ValueKind::Path) return;  // known only when it runs
    // A `source` lost to a syntax error (`source = ./src`) is not the default ".": looking
    // for the script there would only report a second, false error.
    if (!source_value && step.block && step.block->incomplete) return;
    if (!fs::is_directory(source, error)) {
        SourceRange where = source_member ? source_member->value->range : step.name.range;
        diagnostics_.error("missing-file", where, "source folder '" + job.source_folder + "' does not exist")
            .note("looked for '" + source.lexically_normal().string() + "'");
        return;
    }
    if (!check_source_include(step, job)) return;
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

// `source_include` narrows the snapshot: its patterns must stay in the folder, and the
// script must be among the files it keeps, or the job could not start. False when the
// script cannot be checked further.
bool Checker::check_source_include(const ast::Step& step, const CheckedStep& job) {
    const ast::Member* member = find_member(step.block.get(), "source_include");
    const Value* include = job.fields.field("source_include");
    if (!member || !include || include->kind != ValueKind::List) return true;
    SourceRange where = member->value ? member->value->range : member->key.range;
    if (include->items.empty()) {
        diagnostics_.error("invalid-value", where, "'source_include' of job '" + step.name.name + "' is empty: the snapshot would hold no file")
            .help("list the files the job needs, e.g. source_include = [\"*.py\"], or remove the field to keep every file");
        return false;
    }
    for (const std::string& pattern : job.source_include) {
        std::string problem = source_include_problem(pattern);
        if (problem.empty()) continue;
        diagnostics_.error("invalid-value", where, "'source_include' pattern \"" + pattern + "\" cannot be used: " + problem);
        return false;
    }
    const Value* script = job.fields.field("script");
    if (!script || script->kind != ValueKind::Path) return true;
    std::string relative = fs::path(script->text).lexically_normal().generic_string();
    if (source_include_matches(job.source_include, relative)) return true;
    const ast::Member* script_member = find_member(step.block.get(), "script");
    diagnostics_.error("missing-file", script_member && script_member->value ? script_member->value->range : where,
                       "script '" + script->text + "' is not in the snapshot of job '" + job.name +
                           "': no pattern of 'source_include' matches it")
        .note("'source_include' is given here", where)
        .help("add \"" + relative + "\" to source_include");
    return false;
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
    // No declared metrics: whether a trial reports the metric cannot be proved from the
    // script's text (the name may be built at run time, or logged by a module it imports),
    // so this is never an error. A script that never names the metric gets a warning.
    const Value* script = out.template_fields.field("script");
    if (!script || script->kind != ValueKind::Path) return;
    fs::path file = modules_.modules[0]->folder / out.source_folder / script->text;
    std::ifstream in(file);
    if (!in) return;  // a missing script is reported on the job
    std::ostringstream text;
    text << in.rdbuf();
    if (names_word(text.str(), metric)) return;
    diagnostics_.warning("objective", where->value->range,
                         "cannot tell whether job '" + job.name.name + "' reports objective metric '" + metric + "'")
        .note("'" + script->text + "' never names '" + metric + "'; it may build the name or log it from another module")
        .help("declare what it reports, and amlflow checks the objective against it: metrics = [\"" + metric + "\"]");
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
