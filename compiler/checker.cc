#include <algorithm>
#include "compiler/checker.h"

#include "compiler/suggest.h"

namespace amlflow::compiler {

namespace {

// Variables the runtime sets for a per-node command: written `$NODE_RANK` in the string.
bool is_runtime_variable(const std::string& name) {
    static const std::set<std::string> kNames = {"NODE_RANK", "NODES", "MASTER_ADDR", "MASTER_PORT",
                                                 "WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE"};
    return kNames.count(name) > 0;
}

const char* symbol_kind_name(int kind) {
    static const char* kNames[] = {"param", "let", "workspace", "environment", "compute", "import", "experiment"};
    return kNames[kind];
}

}  // namespace

Checker::Checker(const ModuleSet& modules, const CheckOptions& options, Diagnostics& diagnostics)
    : modules_(modules), options_(options), diagnostics_(diagnostics), evaluator_(*this, diagnostics) {}

const std::filesystem::path& Checker::folder_of(size_t module) const {
    return modules_.modules[module]->folder;
}

std::string Checker::label_of(size_t module) const { return labels_[module]; }

CheckedProgram Checker::run() {
    CheckedProgram program;
    run(program);
    return program;
}

void Checker::run(CheckedProgram& program) {
    if (modules_.modules.empty()) return;
    program.main_path = modules_.modules[0]->ast->source->path();
    program.folder = modules_.modules[0]->folder;
    collect_symbols();
    apply_sets();
    for (const ast::Decl& decl : modules_.modules[0]->ast->decls) {
        if (decl.kind != ast::DeclKind::Param) continue;
        const Symbol& symbol = symbols_[0].at(decl.name.name);
        if (symbol.decl != &decl) continue;
        program.params.emplace_back(decl.name.name, value_of(symbol, decl.name));
    }
    check_declarations();
    apply_compute_override();
    check_steps(program);
    check_cycles(program);
    check_azureml_environments(program);
    for (const std::string& id : used_environments_) program.environments.push_back(environments_.at(id));
    for (const std::string& id : used_computes_) program.computes.push_back(computes_.at(id));
    program.workspaces = workspaces_;
}

void Checker::add_symbol(size_t module, const ast::Identifier& name, Symbol symbol, SourceRange range) {
    auto& table = symbols_[module];
    if (auto found = table.find(name.name); found != table.end()) {
        diagnostics_.error("duplicate", name.range, "'" + name.name + "' is already declared")
            .note("'" + name.name + "' is first declared here as a" +
                      std::string(found->second.kind == Symbol::Kind::Import ||
                                  found->second.kind == Symbol::Kind::Environment ||
                                  found->second.kind == Symbol::Kind::Experiment ? "n " : " ") +
                      symbol_kind_name(static_cast<int>(found->second.kind)),
                  found->second.kind == Symbol::Kind::Import ? found->second.decl->range : found->second.decl->name.range);
        return;
    }
    table.emplace(name.name, std::move(symbol));
}

void Checker::collect_symbols() {
    symbols_.resize(modules_.modules.size());
    labels_.assign(modules_.modules.size(), "");
    // An imported module's declarations are named through the alias that first imported it.
    for (size_t m = 0; m < modules_.modules.size(); ++m) {
        for (const auto& [alias, index] : modules_.modules[m]->imports) {
            if (index != 0 && labels_[index].empty()) labels_[index] = (labels_[m].empty() ? "" : labels_[m] + ".") + alias;
        }
    }
    for (size_t m = 0; m < modules_.modules.size(); ++m) {
        const LoadedModule& module = *modules_.modules[m];
        std::string prefix = labels_[m].empty() ? "" : labels_[m] + ".";
        for (ast::Decl& decl : module.ast->decls) {
            using K = Symbol::Kind;
            K kind = K::Param;
            std::string id;
            switch (decl.kind) {
                case ast::DeclKind::Import: {
                    kind = K::Import;
                    size_t target = SIZE_MAX;
                    for (const auto& [alias, index] : module.imports) {
                        if (alias == decl.name.name) target = index;
                    }
                    if (target == SIZE_MAX) continue;  // its loading failed and was reported
                    id = "module:" + std::to_string(target);
                    break;
                }
                case ast::DeclKind::Param: kind = K::Param; id = "param:" + prefix + decl.name.name; break;
                case ast::DeclKind::Let: kind = K::Let; id = "let:" + prefix + decl.name.name; break;
                case ast::DeclKind::Workspace: kind = K::Workspace; id = "workspace:" + prefix + decl.name.name; break;
                case ast::DeclKind::Environment: kind = K::Environment; id = "environment:" + prefix + decl.name.name; break;
                case ast::DeclKind::Compute: kind = K::Compute; id = "compute:" + prefix + decl.name.name; break;
                case ast::DeclKind::Experiment: kind = K::Experiment; id = "experiment:" + decl.name.name; break;
            }
            add_symbol(m, decl.name, Symbol{kind, &decl, m, id}, decl.range);
            if (decl.kind != ast::DeclKind::Experiment) continue;
            if (m != 0) {
                diagnostics_.error("import", decl.name.range,
                                   "experiment '" + decl.name.name + "' is in an imported file")
                    .note("only the file given to amlflow holds experiments; imported files share declarations");
                continue;
            }
            for (ast::Step& step : decl.steps) {
                if (auto found = steps_.find(step.name.name); found != steps_.end()) {
                    diagnostics_.error("duplicate", step.name.range, "step '" + step.name.name + "' is already declared")
                        .note("first declared here", found->second.step->name.range)
                        .help("step names are unique in a file, across experiments");
                    continue;
                }
                if (symbols_[0].count(step.name.name) && symbols_[0].at(step.name.name).kind != Symbol::Kind::Experiment) {
                    diagnostics_.error("duplicate", step.name.range, "step '" + step.name.name + "' has the name of a declaration")
                        .note("declared here", symbols_[0].at(step.name.name).decl->name.range);
                    continue;
                }
                steps_.emplace(step.name.name, StepSymbol{&step, decl.name.name});
                step_order_.push_back(step.name.name);
            }
        }
    }
}

std::vector<std::string> Checker::visible_names(const EvalScope& scope) const {
    std::vector<std::string> names;
    if (scope.locals) {
        for (const auto& local : *scope.locals) names.push_back(local.first);
    }
    for (const auto& entry : symbols_[scope.module]) names.push_back(entry.first);
    if (scope.module == 0) {
        for (const auto& entry : steps_) names.push_back(entry.first);
    }
    for (const std::string& word : bare_words(scope.field)) names.push_back(word);
    return names;
}

// The same names as visible_names, looked up instead of listed: this is asked for every
// path field, and a file may hold thousands of steps.
bool Checker::knows(const std::string& name, const EvalScope& scope) const {
    if (scope.locals) {
        for (const auto& local : *scope.locals) {
            if (local.first == name) return true;
        }
    }
    if (symbols_[scope.module].count(name)) return true;
    if (scope.module == 0 && steps_.count(name)) return true;
    for (const std::string& word : bare_words(scope.field)) {
        if (word == name) return true;
    }
    return false;
}

bool Checker::suggests(const std::string& name, const EvalScope& scope) const {
    return closest_name(name, visible_names(scope)).has_value();
}

Value Checker::resolve(const ast::Identifier& name, const EvalScope& scope) {
    if (scope.locals) {
        for (const auto& [local, value] : *scope.locals) {
            if (local == name.name) return value;
        }
    }
    const auto& table = symbols_[scope.module];
    if (auto found = table.find(name.name); found != table.end()) return value_of(found->second, name);
    if (scope.module == 0) {
        if (auto step = steps_.find(name.name); step != steps_.end()) {
            if (scope.referenced_steps) scope.referenced_steps->insert(name.name);
            return Value::of_ref("step:" + name.name);
        }
    }
    Diagnostic& d = diagnostics_.error("unknown-name", name.range, "unknown name '" + name.name + "'");
    if (is_runtime_variable(name.name)) {
        d.help("'" + name.name + "' is set when the job runs: write $" + name.name +
               " in a command, or \\${" + name.name + "} to keep the braces");
    } else if (auto near = closest_name(name.name, visible_names(scope))) {
        d.help("did you mean '" + *near + "'?");
    }
    return Value::error();
}

Value Checker::value_of(const Symbol& symbol, const ast::Identifier& use) {
    using K = Symbol::Kind;
    switch (symbol.kind) {
        case K::Param:
            return evaluate_param(symbol);
        case K::Let: {
            Lazy& lazy = lazy_[symbol.id];
            if (lazy.state == Lazy::State::Done) return lazy.value;
            if (lazy.state == Lazy::State::Busy) {
                diagnostics_.error("cycle", use.range, "'" + use.name + "' is defined in terms of itself")
                    .note("'" + symbol.decl->name.name + "' is declared here", symbol.decl->name.range);
                return Value::error();
            }
            lazy.state = Lazy::State::Busy;
            EvalScope scope;
            scope.module = symbol.module;
            Value value = evaluator_.eval(*symbol.decl->value, scope);
            Lazy& done = lazy_[symbol.id];
            done.state = Lazy::State::Done;
            done.value = value;
            return value;
        }
        case K::Environment:
            return evaluate_environment(symbol);
        case K::Workspace:
        case K::Compute:
        case K::Import:
            return Value::of_ref(symbol.id);
        case K::Experiment:
            diagnostics_.error("type", use.range, "experiment '" + use.name + "' is not a value")
                .note("refer to its steps by name");
            return Value::error();
    }
    return Value::error();
}

const ast::Member* Checker::find_member(const ast::Block* block, std::string_view key) const {
    if (block == nullptr) return nullptr;
    for (const ast::Member& m : block->members) {
        if (m.key.name == key) return &m;
    }
    return nullptr;
}

}  // namespace amlflow::compiler
