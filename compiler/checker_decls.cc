// Workspaces, environments (with `from` derivation) and computes.
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "compiler/checker.h"
#include "compiler/suggest.h"

namespace amlflow::compiler {

namespace fs = std::filesystem;

void Checker::check_declarations() {
    // Workspaces first: a compute's check asks how many there are.
    for (int pass = 0; pass < 2; ++pass) {
        for (size_t m = 0; m < symbols_.size(); ++m) {
            for (const ast::Decl& decl : modules_.modules[m]->ast->decls) {
                auto found = symbols_[m].find(decl.name.name);
                if (found == symbols_[m].end() || found->second.decl != &decl) continue;  // a duplicate
                const Symbol& symbol = found->second;
                bool is_workspace = decl.kind == ast::DeclKind::Workspace;
                if ((pass == 0) != is_workspace) continue;
                switch (decl.kind) {
                    case ast::DeclKind::Workspace: check_workspace(symbol); break;
                    case ast::DeclKind::Environment: evaluate_environment(symbol); break;
                    case ast::DeclKind::Compute: check_compute(symbol); break;
                    case ast::DeclKind::Let: value_of(symbol, decl.name); break;
                    case ast::DeclKind::Param: if (m != 0) value_of(symbol, decl.name); break;
                    default: break;
                }
            }
        }
    }
}

void Checker::check_workspace(const Symbol& symbol) {
    const ast::Decl& decl = *symbol.decl;
    EvalScope scope;
    scope.module = symbol.module;
    scope.unset_env_is_warning = true;
    std::string owner = "workspace '" + decl.name.name + "'";
    Value fields = evaluator_.eval_block(*decl.block, schema::workspace(), owner, scope, decl.name.range);
    bool has_config = fields.field("config") != nullptr;
    std::vector<std::string> missing;
    for (const char* name : {"subscription", "resource_group", "name"}) {
        if (!fields.field(name)) missing.push_back(name);
    }
    if (has_config && missing.size() < 3) {
        diagnostics_.error("invalid-value", decl.name.range, owner + " gives both 'config' and names")
            .help("keep 'config' (a config.json) or the names, not both");
    } else if (has_config) {
        const Value& config = *fields.field("config");
        fs::path path = modules_.modules[0]->folder / config.text;
        std::error_code error;
        bool readable = fs::is_regular_file(path, error) && fs::file_size(path, error) < (1u << 20);
        std::ifstream in;
        if (readable) in.open(path);
        const ast::Member* where = find_member(decl.block.get(), "config");
        SourceRange range = where ? where->value->range : decl.name.range;
        if (!readable || !in) {
            diagnostics_.error("missing-file", range, "workspace config '" + config.text + "' does not exist")
                .note("download it from the Azure portal: the workspace's overview page, 'Download config.json'");
        } else {
            nlohmann::json json = nlohmann::json::parse(in, nullptr, false);
            for (const char* key : {"subscription_id", "resource_group", "workspace_name"}) {
                if (json.is_discarded() || !json.is_object() || !json.contains(key) || !json[key].is_string()) {
                    diagnostics_.error("invalid-value", range, "workspace config '" + config.text + "' has no string '" + key + "'")
                        .note("a config.json holds subscription_id, resource_group and workspace_name");
                    break;
                }
            }
        }
    } else if (!missing.empty() && !decl.block->incomplete && !evaluator_.had_unknown_field(decl.block.get())) {
        diagnostics_.error("missing-field", decl.name.range, owner + " is missing field '" + missing[0] + "'")
            .help("give 'subscription', 'resource_group' and 'name', or 'config = \"config.json\"'");
    }
    workspaces_.push_back({symbol.id, decl.name.name, "", fields, decl.name.range});
}

Value Checker::evaluate_environment(const Symbol& symbol) {
    Lazy& lazy = lazy_[symbol.id];
    if (lazy.state == Lazy::State::Done) return lazy.value;
    const ast::Decl& decl = *symbol.decl;
    if (lazy.state == Lazy::State::Busy) {
        diagnostics_.error("cycle", decl.name.range, "environment '" + decl.name.name + "' derives from itself");
        return Value::error();
    }
    lazy.state = Lazy::State::Busy;
    EvalScope scope;
    scope.module = symbol.module;
    std::string owner = "environment '" + decl.name.name + "'";
    Value merged;
    merged.kind = ValueKind::Map;
    if (!decl.base.empty()) {
        Value base = resolve(decl.base[0], scope);
        for (size_t i = 1; i < decl.base.size() && base.kind != ValueKind::Error; ++i) {
            ast::Expr whole;
            whole.range = SourceRange::cover(decl.base[0].range, decl.base[i].range);
            base = member(base, decl.base[i], whole, scope);
        }
        if (base.kind == ValueKind::Ref && environments_.count(base.text)) {
            merged = environments_.at(base.text).fields;
            environment_bases_[symbol.id] = base.text;
        } else if (base.kind != ValueKind::Error) {
            diagnostics_.error("type", SourceRange::cover(decl.base.front().range, decl.base.back().range),
                               owner + " derives from " + describe_kind(base) + ", not an environment");
        }
    }
    Value own = evaluator_.eval_block(*decl.block, schema::environment(), owner, scope, decl.name.range);
    check_variable_names(decl.block.get());
    merged.merge(own);
    std::string name = label_of(symbol.module).empty() ? decl.name.name : label_of(symbol.module) + "." + decl.name.name;
    environments_[symbol.id] = {symbol.id, name, "", merged, decl.name.range};
    Lazy& done = lazy_[symbol.id];
    done.state = Lazy::State::Done;
    done.value = Value::of_ref(symbol.id);
    return done.value;
}

void Checker::check_compute(const Symbol& symbol) {
    const ast::Decl& decl = *symbol.decl;
    const std::string& kind = decl.compute_kind.name;
    const BlockSpec* spec = schema::compute(kind);
    std::string owner = "compute '" + decl.name.name + "'";
    if (kind.empty()) return;  // a syntax error left it out, and is reported
    if (spec == nullptr) {
        std::vector<std::string> kinds;
        for (std::string_view k : schema::compute_kinds()) kinds.emplace_back(k);
        Diagnostic& d = diagnostics_.error("unknown-name", decl.compute_kind.range, "unknown compute kind '" + kind + "'");
        if (auto near = closest_name(kind, kinds)) d.help("did you mean '" + *near + "'?");
        else d.note("the compute kinds are local, hosts and amlcompute");
        return;
    }
    EvalScope scope;
    scope.module = symbol.module;
    Value fields = evaluator_.eval_block(*decl.block, *spec, owner, scope, decl.name.range);
    if (kind == "amlcompute") {
        const Value* low = fields.field("min_nodes");
        const Value* high = fields.field("max_nodes");
        int64_t max_nodes = high && high->kind == ValueKind::Int ? high->number : 1;
        if (low && low->kind == ValueKind::Int && low->number > max_nodes) {
            diagnostics_.error("out-of-range", find_member(decl.block.get(), "min_nodes")->value->range,
                               owner + " has min_nodes " + std::to_string(low->number) + " above max_nodes " +
                                   std::to_string(max_nodes));
        }
        if (!fields.field("workspace") && workspaces_.size() != 1) {
            Diagnostic& d = diagnostics_.error("missing-field", decl.name.range,
                                               owner + " runs on Azure ML and needs a workspace");
            if (workspaces_.empty()) d.help("declare one: workspace azure { config = \"config.json\" }");
            else d.help("there are several: say which with 'workspace = ...'");
        }
    }
    if (kind == "hosts") check_hosts_compute(symbol, fields, owner);
    std::string name = label_of(symbol.module).empty() ? decl.name.name : label_of(symbol.module) + "." + decl.name.name;
    computes_[symbol.id] = {symbol.id, name, kind, fields, decl.name.range};
}

const CheckedDecl* Checker::environment(const std::string& id) {
    auto found = environments_.find(id);
    if (found == environments_.end()) return nullptr;
    if (std::find(used_environments_.begin(), used_environments_.end(), id) == used_environments_.end()) {
        used_environments_.push_back(id);
    }
    return &found->second;
}

const CheckedDecl* Checker::compute(const std::string& id) {
    auto found = computes_.find(id);
    if (found == computes_.end()) return nullptr;
    if (std::find(used_computes_.begin(), used_computes_.end(), id) == used_computes_.end()) {
        used_computes_.push_back(id);
    }
    return &found->second;
}

// `--compute NAME` names a compute the file declares (an imported one by its qualified
// name, `lib.farm`). Every job, binding and sweep is then placed there, so check, plan and
// run see one program: capacity is checked against that compute, the plan's steps point
// at it, and their hashes hold it.
void Checker::apply_compute_override() {
    const std::string& wanted = options_.compute;
    if (wanted.empty()) return;
    auto source = std::make_shared<SourceFile>("--compute", wanted);
    extra_sources_.push_back(source);
    SourceRange where{source.get(), 0, static_cast<uint32_t>(wanted.size())};
    std::vector<std::string> names;  // the declared computes, main file first, in file order
    for (size_t m = 0; m < modules_.modules.size(); ++m) {
        for (const ast::Decl& decl : modules_.modules[m]->ast->decls) {
            auto found = symbols_[m].find(decl.name.name);
            if (decl.kind != ast::DeclKind::Compute || found == symbols_[m].end() || found->second.decl != &decl) continue;
            std::string name = label_of(m).empty() ? decl.name.name : label_of(m) + "." + decl.name.name;
            auto checked = computes_.find(found->second.id);
            if (name == wanted) {
                // A compute of an unknown kind is reported where it is declared.
                if (checked != computes_.end()) override_id_ = checked->first;
                override_range_ = where;
                return;
            }
            names.push_back(name);
        }
    }
    std::string main = "'" + modules_.modules[0]->ast->source->path() + "'";
    Diagnostic& d = diagnostics_.error("unknown-name", where, "unknown compute '" + wanted + "'");
    if (auto other = symbols_[0].find(wanted); other != symbols_[0].end()) {
        static const char* kKinds[] = {"a param", "a let", "a workspace", "an environment", "a compute", "an import",
                                       "an experiment"};
        d.note("'" + wanted + "' is " + kKinds[static_cast<int>(other->second.kind)] + ", not a compute",
               other->second.decl->name.range);
    }
    if (names.empty()) {
        d.note(main + " declares no compute")
            .help("declare one, e.g. compute farm : hosts { hosts = [\"node1:2\"] }, then run with --compute farm");
        return;
    }
    std::string all;
    for (const std::string& name : names) all += (all.empty() ? "'" : ", '") + name + "'";
    d.note("the computes of " + main + " are " + all);
    if (auto near = closest_name(wanted, names)) d.help("did you mean '" + *near + "'?");
}

// A job's fields and compute as `--compute` places it: its `compute` field says where it
// runs (the plan's `compute` and `$compute` agree).
void Checker::place_on_override(Value& fields, std::string& compute_id) {
    if (override_id_.empty()) return;
    compute_id = override_id_;
    for (auto& [key, value] : fields.fields) {
        if (key == "compute") {
            value = Value::of_ref(override_id_);
            return;
        }
    }
    fields.fields.emplace_back("compute", Value::of_ref(override_id_));
}

void Checker::note_override(Diagnostic& diagnostic) {
    if (override_id_.empty()) return;
    diagnostic.note("--compute " + options_.compute + " runs every job on compute '" + options_.compute + "'",
                    override_range_);
}

// A job that names no environment runs with `python3` on this machine.
std::string Checker::default_environment() {
    const std::string id = "environment:(default)";
    if (!environments_.count(id)) {
        Value fields;
        fields.kind = ValueKind::Map;
        fields.fields.emplace_back("python", Value::of_string("python3"));
        environments_[id] = {id, "(default)", "", fields, {}};
    }
    environment(id);
    return id;
}

// A job that names no compute runs on this machine, with every GPU it has.
std::string Checker::default_compute() {
    const std::string id = "compute:(local)";
    if (!computes_.count(id)) {
        Value fields;
        fields.kind = ValueKind::Map;
        fields.fields.emplace_back("gpus", Value::of_enum("all"));
        computes_[id] = {id, "(local)", "local", fields, {}};
    }
    compute(id);
    return id;
}

}  // namespace amlflow::compiler
