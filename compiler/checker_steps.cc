// Steps: jobs, job templates and their bindings, sweeps, register/export/download.
#include <algorithm>
#include <filesystem>
#include <unordered_map>
#include "compiler/ast_pack.h"
#include "compiler/checker.h"
#include "compiler/ignore_rules.h"
#include "compiler/suggest.h"

namespace amlflow::compiler {

namespace {

// Steps a value reads the results of: the plan's data edges.
void collect_steps(const Value& value, std::set<std::string>& out) {
    if (value.kind == ValueKind::Output) out.insert(value.step());
    if (value.kind == ValueKind::Ref && value.text.rfind("step:", 0) == 0) out.insert(value.text.substr(5));
    for (const Value& item : value.items) collect_steps(item, out);
    for (const auto& field : value.fields) collect_steps(field.second, out);
}

void split_edges(CheckedStep& step, const Value& fields) {
    for (const auto& [key, value] : fields.fields) {
        if (key == "after") collect_steps(value, step.after);
        else collect_steps(value, step.data_inputs);
    }
}

}  // namespace

namespace {

// Whether a path, relative to the file's folder, stays inside it.
bool stays_inside(const std::string& path) {
    std::filesystem::path p(path);
    if (p.is_absolute()) return false;
    int depth = 0;
    for (const auto& part : p) {
        if (part == "..") {
            if (--depth < 0) return false;
        } else if (part != "." && !part.empty()) {
            ++depth;
        }
    }
    return true;
}

}  // namespace

void Checker::check_steps(CheckedProgram& program) {
    for (const std::string& name : step_order_) {
        const StepSymbol& symbol = steps_.at(name);
        ast::unpack_step_body(*symbol.step, *modules_.modules[0]->ast->source);  // steps are in the main file
        if (auto step = check_step(symbol)) {
            program.steps.push_back(std::move(*step));
            if (options_.on_step_checked) options_.on_step_checked(program.steps.back());
        }
        // Later steps read only a checked step's name and kind (step_result), except a
        // binding or a sweep, which reads its job template's whole tree.
        if (options_.drop_step_trees && !symbol.step->is_template) {
            symbol.step->block.reset();
            std::vector<ast::Arg>().swap(symbol.step->bind_args);
            // Its blocks' addresses may come back in the next step's unpacked tree.
            evaluator_.forget_unknown_fields();
        }
    }
    warn_downloads_into_sources(program);
}

// A download into a job's own source folder changes that folder's snapshot on every run,
// so the job (and all after it) would never come from the cache: say so, unless the
// folder's ignore file already leaves the destination out. Each folder is looked at once,
// with the first step that snapshots it, so a file with thousands of steps and downloads
// costs downloads x folders, not downloads x steps.
void Checker::warn_downloads_into_sources(const CheckedProgram& program) {
    namespace fs = std::filesystem;
    struct Folder {
        fs::path source;  // normalized
        const CheckedStep* first;
        std::optional<IgnoreRules> rules;  // read when a download first lands inside
    };
    std::vector<Folder> folders;  // in the order of their first step
    std::unordered_map<std::string, size_t> folder_of_written, folder_of_normal;
    bool collected = false;
    auto collect_folders = [&] {
        collected = true;
        for (const CheckedStep& job : program.steps) {
            if (job.source_folder.empty() || folder_of_written.count(job.source_folder)) continue;
            fs::path source = fs::path(job.source_folder).lexically_normal();
            auto [at, added] = folder_of_normal.emplace(source.string(), folders.size());
            if (added) folders.push_back({source, &job, std::nullopt});
            folder_of_written.emplace(job.source_folder, at->second);
        }
    };
    for (const CheckedStep& download : program.steps) {
        if (download.download_to.empty() || !stays_inside(download.download_to)) continue;
        if (!collected) collect_folders();
        fs::path target = fs::path(download.download_to).lexically_normal();
        for (Folder& folder : folders) {
            const fs::path& source = folder.source;
            fs::path relative = source == "." ? target : target.lexically_relative(source);
            if (relative.empty() || *relative.begin() == "..") continue;
            if (!folder.rules) folder.rules = IgnoreRules::load(program.folder / source);
            if (folder.rules->ignored(relative.generic_string(), true)) continue;
            const CheckedStep& job = *folder.first;
            std::string kind = job.kind == ast::StepKind::Sweep ? "sweep" : "job";
            diagnostics_.warning("cache", download.range,
                                 "download '" + download.name + "' writes into the source folder of " + kind + " '" +
                                     job.name + "': that folder changes with every download, so '" + job.name +
                                     "' is never reused from the cache")
                .help("add '" + relative.generic_string() + "/' to " + (source / ".amlignore").generic_string() +
                      ", or download outside '" + source.generic_string() + "'");
            break;
        }
    }
}

std::optional<CheckedStep> Checker::check_step(const StepSymbol& symbol) {
    const ast::Step& step = *symbol.step;
    CheckedStep out;
    out.name = step.name.name;
    out.experiment = symbol.experiment;
    out.kind = step.kind;
    out.range = step.name.range;
    std::string owner = std::string(ast::step_kind_name(step.kind)) + " '" + step.name.name + "'";
    EvalScope scope;
    switch (step.kind) {
        case ast::StepKind::Job:
            if (step.target) {
                check_binding(step, out);
            } else {
                check_job(step, out);
                if (step.is_template) return std::nullopt;  // it runs only when bound
            }
            break;
        case ast::StepKind::Sweep: check_sweep(step, out); break;
        case ast::StepKind::Register:
            out.fields = evaluator_.eval_block(*step.block, schema::register_model(), owner, scope, step.name.range);
            break;
        case ast::StepKind::Export: {
            out.fields = evaluator_.eval_block(*step.block, schema::export_onnx(), owner, scope, step.name.range);
            const Value* env = out.fields.field("environment");
            out.environment_id = env && env->kind == ValueKind::Ref ? env->text : default_environment();
            environment(out.environment_id);
            const Value* shape = out.fields.field("input_shape");
            if (shape && shape->kind == ValueKind::List) {
                const ast::Member* where = find_member(step.block.get(), "input_shape");
                if (shape->items.empty()) {
                    diagnostics_.error("out-of-range", where->value->range, "'input_shape' of " + owner + " is empty");
                }
                for (const Value& dim : shape->items) {
                    if (dim.kind == ValueKind::Int && dim.number < 1) {
                        diagnostics_.error("out-of-range", where->value->range,
                                           "'input_shape' of " + owner + " has a dimension below 1: " + show_value(dim));
                        break;
                    }
                }
            }
            break;
        }
        case ast::StepKind::Download: {
            out.fields = evaluator_.eval_block(*step.block, schema::download(), owner, scope, step.name.range);
            // A download writes beside the file, never elsewhere (DESIGN §6).
            const Value* to = out.fields.field("to");
            const ast::Member* where = find_member(step.block.get(), "to");
            if (to && to->kind == ValueKind::Path && where && where->value && !stays_inside(to->text)) {
                diagnostics_.error("path", where->value->range,
                                   "'to' of " + owner + " leaves the folder of the file: '" + to->text + "'")
                    .help("downloads go to a folder inside the file's folder, e.g. \"downloads/model\"");
            }
            if (to && to->kind == ValueKind::Path) out.download_to = to->text;
            break;
        }
    }
    split_edges(out, out.fields);
    split_edges(out, out.template_fields);
    for (const std::string& before : out.after) {
        const ast::Step* target = steps_.count(before) ? steps_.at(before).step : nullptr;
        if (target && target->kind == ast::StepKind::Job && target->is_template) {
            const ast::Member* after = find_member(step.block.get(), "after");
            diagnostics_.error("template", after && after->value ? after->value->range : step.name.range,
                               "job '" + before + "' is a template: it has parameters and does not run on its own")
                .note("declared with parameters here", target->name.range)
                .help("wait for a step that binds it instead");
        }
    }
    for (const auto& [name, value] : out.params) collect_steps(value, out.data_inputs);
    for (const std::string& input : out.data_inputs) out.after.erase(input);
    return out;
}

std::vector<std::pair<std::string, Value>> Checker::template_locals(const ast::Step& job) {
    std::vector<std::pair<std::string, Value>> locals;
    for (const ast::JobParam& param : job.params) {
        Value placeholder;
        placeholder.kind = ValueKind::Param;
        placeholder.text = param.name.name;
        placeholder.detail().type = param.type.name.name;
        locals.emplace_back(param.name.name, placeholder);
    }
    return locals;
}

void Checker::check_job(const ast::Step& step, CheckedStep& out) {
    std::vector<std::pair<std::string, Value>> locals;
    if (step.is_template) {
        std::set<std::string> seen;
        for (const ast::JobParam& param : step.params) {
            if (!seen.insert(param.name.name).second) {
                diagnostics_.error("duplicate", param.name.range, "parameter '" + param.name.name + "' is declared twice");
            }
            auto spec = type_spec(param.type, true);
            if (param.default_value && spec) {
                Value value = evaluator_.eval(*param.default_value, EvalScope{});
                std::string why;
                if (value.kind != ValueKind::Error && !coerce_to_field(value, *spec, &why)) {
                    diagnostics_.error("type", param.default_value->range, "parameter '" + param.name.name + "' is " +
                                                                               std::string(param.type.range.text()) + " but its default is " + why);
                }
            }
        }
        locals = template_locals(step);
    }
    EvalScope scope;
    scope.locals = step.is_template ? &locals : nullptr;
    out.fields = evaluator_.eval_block(*step.block, schema::job(), "job '" + step.name.name + "'", scope, step.name.range);
    check_variable_names(step.block.get());
    finish_job_fields(step, out);
}

const ast::Step* Checker::template_job(const ast::Step& step, const char* what) {
    const ast::Identifier& target = *step.target;
    auto found = steps_.find(target.name);
    if (found == steps_.end()) {
        std::vector<std::string> jobs;
        for (const auto& [name, symbol] : steps_) {
            if (symbol.step->kind == ast::StepKind::Job && symbol.step->is_template) jobs.push_back(name);
        }
        Diagnostic& d = diagnostics_.error("unknown-name", target.range, "unknown job '" + target.name + "'");
        if (auto near = closest_name(target.name, jobs)) d.help("did you mean '" + *near + "'?");
        return nullptr;
    }
    const ast::Step* job = found->second.step;
    if (job->kind != ast::StepKind::Job || !job->is_template) {
        Diagnostic& d = diagnostics_.error("template", target.range,
                                           std::string(what) + " needs a job with parameters; " +
                                               ast::step_kind_name(job->kind) + " '" + target.name + "' has none");
        d.note("declared here", job->name.range);
        if (job->kind == ast::StepKind::Job) d.help("declare its parameters: job " + target.name + "(lr: float = 0.01) { ... }");
        return nullptr;
    }
    if (job == &step) return nullptr;
    return job;
}

void Checker::check_binding(const ast::Step& step, CheckedStep& out) {
    const ast::Step* job = template_job(step, ("job '" + step.name.name + "'").c_str());
    if (job == nullptr) return;
    out.template_name = job->name.name;
    std::vector<std::pair<std::string, Value>> locals;
    std::set<std::string> bound;
    size_t position = 0;
    for (const ast::Arg& arg : step.bind_args) {
        const ast::JobParam* param = nullptr;
        if (arg.name) {
            for (const ast::JobParam& p : job->params) {
                if (p.name.name == arg.name->name) param = &p;
            }
            if (param == nullptr) {
                std::vector<std::string> names;
                for (const ast::JobParam& p : job->params) names.push_back(p.name.name);
                Diagnostic& d = diagnostics_.error("unknown-name", arg.name->range,
                                                   "job '" + job->name.name + "' has no parameter '" + arg.name->name + "'");
                if (auto near = closest_name(arg.name->name, names)) d.help("did you mean '" + *near + "'?");
                continue;
            }
        } else if (position < job->params.size()) {
            param = &job->params[position++];
        } else {
            size_t count = job->params.size();
            diagnostics_.error("type", arg.range, "job '" + job->name.name + "' takes " + std::to_string(count) +
                                                       (count == 1 ? " parameter" : " parameters") + ", given " +
                                                       std::to_string(step.bind_args.size()));
            continue;
        }
        if (!bound.insert(param->name.name).second) {
            diagnostics_.error("duplicate", arg.range, "parameter '" + param->name.name + "' is bound twice");
            continue;
        }
        Value value = evaluator_.eval(*arg.value, EvalScope{});
        auto spec = type_spec(param->type, false);
        std::string why;
        if (spec && value.kind != ValueKind::Error) {
            if (auto converted = coerce_to_field(value, *spec, &why)) {
                value = *converted;
            } else {
                diagnostics_.error("type", arg.value->range, "parameter '" + param->name.name + "' of '" + job->name.name +
                                                                 "' is " + std::string(param->type.range.text()) + ", not " + why);
            }
        }
        locals.emplace_back(param->name.name, value);
    }
    for (const ast::JobParam& param : job->params) {
        if (bound.count(param.name.name)) continue;
        if (!param.default_value) {
            diagnostics_.error("missing-field", step.target->range,
                               "'" + step.name.name + "' does not bind parameter '" + param.name.name + "' of '" + job->name.name + "'")
                .note("it has no default", param.name.range);
            continue;
        }
        Value value = evaluator_.eval(*param.default_value, EvalScope{});
        std::string why;
        if (auto spec = type_spec(param.type, false)) {
            if (auto converted = coerce_to_field(value, *spec, &why)) value = *converted;
        }
        locals.emplace_back(param.name.name, value);
    }
    out.params = locals;
    EvalScope scope;
    scope.locals = &locals;
    out.fields = evaluator_.eval_block(*job->block, schema::job(), "job '" + job->name.name + "'", scope, job->name.range);
    if (step.block && !step.block->members.empty()) {
        Value overrides = evaluator_.eval_block(*step.block, schema::job(), "job '" + step.name.name + "'", EvalScope{}, step.name.range);
        check_variable_names(step.block.get());
        // A command given in the binding replaces the template's script, and the other way round.
        auto drop = [&](const char* field) {
            auto& fields = out.fields.fields;
            fields.erase(std::remove_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == field; }), fields.end());
        };
        if (overrides.field("command")) drop("script");
        if (overrides.field("script")) drop("command");
        out.fields.merge(overrides);
    }
    finish_job_fields(*job, out, &step);
}

void Checker::check_sweep(const ast::Step& step, CheckedStep& out) {
    std::string owner = "sweep '" + step.name.name + "'";
    out.fields = evaluator_.eval_block(*step.block, schema::sweep(), owner, EvalScope{}, step.name.range);
    const ast::Step* job = step.target ? template_job(step, owner.c_str()) : nullptr;
    if (job == nullptr) return;
    out.template_name = job->name.name;
    for (const ast::JobParam& param : job->params) {
        CheckedStep::TemplateParam declared{param.name.name, param.type.name.name, std::nullopt};
        if (param.default_value) {
            Value value = evaluator_.eval(*param.default_value, EvalScope{});
            auto spec = type_spec(param.type, false);
            std::string why;
            if (spec) {
                if (auto converted = coerce_to_field(value, *spec, &why)) value = *converted;
            }
            declared.default_value = value;
        }
        out.template_params.push_back(std::move(declared));
    }
    std::vector<std::pair<std::string, Value>> locals = template_locals(*job);
    EvalScope scope;
    scope.locals = &locals;
    out.template_fields = evaluator_.eval_block(*job->block, schema::job(), "job '" + job->name.name + "'", scope, job->name.range);
    CheckedStep as_job = out;
    as_job.fields = out.template_fields;
    finish_job_fields(*job, as_job, &step);
    std::string placed;
    place_on_override(out.template_fields, placed);  // the trials' fields say where they run
    out.environment_id = as_job.environment_id;
    out.compute_id = as_job.compute_id;
    out.source_folder = as_job.source_folder;
    out.source_include = as_job.source_include;
    check_sweep_space(step, *job, out);
    check_sweep_on_azureml(step, *job, out);
    check_sweep_objective(step, *job, out);
}

void Checker::finish_job_fields(const ast::Step& step, CheckedStep& out, const ast::Step* bound_by) {
    const Value* env = out.fields.field("environment");
    out.environment_id = env && env->kind == ValueKind::Ref ? env->text : default_environment();
    environment(out.environment_id);
    const Value* where = out.fields.field("compute");
    if (!override_id_.empty()) place_on_override(out.fields, out.compute_id);
    else out.compute_id = where && where->kind == ValueKind::Ref ? where->text : default_compute();
    compute(out.compute_id);
    const Value* source = out.fields.field("source");
    // A source made by another step is known only when it runs: no snapshot node.
    out.source_folder = !source ? "." : source->kind == ValueKind::Path ? source->text : "";
    out.source_include.clear();
    if (const Value* include = out.fields.field("source_include"); include && include->kind == ValueKind::List) {
        for (const Value& pattern : include->items) out.source_include.push_back(pattern.text);
    }
    // A member that failed to evaluate still counts as given: its error is reported.
    bool own_block = out.template_name.empty();
    bool has_script = out.fields.field("script") != nullptr || (own_block && find_member(step.block.get(), "script"));
    bool has_command = out.fields.field("command") != nullptr || (own_block && find_member(step.block.get(), "command"));
    std::string owner = "job '" + out.name + "'";
    // A binding's fields may come from its own block: point there when the template has none.
    auto range_of = [&](const char* field, bool value) {
        const ast::Member* member = find_member(step.block.get(), field);
        if (member == nullptr) return out.range;
        return value && member->value ? member->value->range : member->key.range;
    };
    if (has_script && has_command) {
        diagnostics_.error("invalid-value", range_of("command", false),
                           owner + " gives both 'script' and 'command'")
            .help("keep one: 'script' runs a Python file, 'command' runs a command line");
    } else if (!has_script && !has_command && !step.block->incomplete && !evaluator_.had_unknown_field(step.block.get())) {
        diagnostics_.error("missing-field", step.name.range, owner + " needs 'script' or 'command'")
            .help("for example: script = \"train.py\"");
    }
    const Value* distribution = out.fields.field("distribution");
    if (distribution && distribution->kind == ValueKind::Object && distribution->text == "per_node" && !has_command) {
        diagnostics_.error("invalid-value", range_of("distribution", true),
                           "a per_node distribution runs a launch command once per node; " + owner + " has no 'command'")
            .help("give a command such as: command = \"python3 -m torch.distributed.launch --node_rank $NODE_RANK ... train.py\"");
    }
    check_job_files(step, out);
    check_capacity(step, out, bound_by);
    check_service_uris(step, out);
}

}  // namespace amlflow::compiler
