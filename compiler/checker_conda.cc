// The conda YAML of each environment a job on Azure ML uses (conda_check.h): the conda file's
// shape and pins, or the pins of the inline lists against `python_version`, warned about where
// they are written. The YAML is built as runtime/azureml/environment_asset.cc builds it
// (docs/runtime.md "Environments on Azure ML"): a `curated` environment registers none, a
// `conda` file is taken as it is, else `python_version`, `conda_packages` and `pip` make it.
#include <fstream>
#include <set>
#include <sstream>

#include "compiler/checker.h"
#include "compiler/conda_check.h"
#include "compiler/python_support.h"

namespace amlflow::compiler {

namespace fs = std::filesystem;

const ast::Decl* Checker::decl_of(const std::string& id) const {
    for (const auto& module : symbols_) {
        for (const auto& [name, symbol] : module) {
            if (symbol.id == id) return symbol.decl;
        }
    }
    return nullptr;
}

// Where field `key` of environment `id` is written: in its own block, else in the environment
// it derives from, and so on. nullptr when it is not written anywhere.
const ast::Member* Checker::environment_member(const std::string& id, std::string_view key, std::string* owner) const {
    std::set<std::string> seen;
    for (std::string at = id; !at.empty() && seen.insert(at).second;) {
        const ast::Decl* decl = decl_of(at);
        if (decl && decl->block) {
            if (const ast::Member* member = find_member(decl->block.get(), key)) {
                if (owner) *owner = at;
                return member;
            }
        }
        auto base = environment_bases_.find(at);
        at = base == environment_bases_.end() ? "" : base->second;
    }
    return nullptr;
}

void Checker::check_azureml_environments(const CheckedProgram& program) {
    std::set<std::string> checked;
    for (const CheckedStep& step : program.steps) {
        auto compute = computes_.find(step.compute_id);
        if (compute == computes_.end() || compute->second.subkind != "amlcompute") continue;
        if (step.environment_id.empty() || !checked.insert(step.environment_id).second) continue;
        auto environment = environments_.find(step.environment_id);
        if (environment != environments_.end()) check_conda_environment(environment->second);
    }
}

void Checker::check_conda_environment(const CheckedDecl& environment) {
    const Value& fields = environment.fields;
    const Value* curated = fields.field("curated");
    if (curated && curated->kind == ValueKind::String && !curated->text.empty()) return warn_unused_lists(environment, "curated");
    CondaRequirements requirements;
    if (const Value* conda = fields.field("conda"); conda && (conda->kind == ValueKind::Path || conda->kind == ValueKind::String)) {
        warn_unused_lists(environment, "conda");
        fs::path path = conda->text;
        if (path.is_relative()) path = modules_.modules[0]->folder / path;
        std::ifstream in(path, std::ios::binary);
        if (!in) return;  // file() reported it; a plain path is read when the job is submitted
        std::ostringstream text;
        text << in.rdbuf();
        auto source = std::make_shared<SourceFile>(path.lexically_normal().generic_string(), text.str());
        extra_sources_.push_back(source);
        requirements = read_conda_file(*source, environment.name, diagnostics_);
    } else {
        requirements = inline_requirements(environment);
    }
    check_conda_requirements(requirements, diagnostics_);
}

// The inline lists, each item where it is written (a list written elsewhere, a `let`, points
// at the field).
CondaRequirements Checker::inline_requirements(const CheckedDecl& environment) {
    CondaRequirements out;
    const Value* version = environment.fields.field("python_version");
    const ast::Member* version_member = environment_member(environment.id, "python_version");
    if (version && version->kind == ValueKind::String) {
        out.python = CondaRequirement{"python=" + version->text,
                                      version_member ? version_member->value->range : environment.range, false};
    } else {
        out.python = CondaRequirement{"python=" + python_support().default_python, environment.range, false};
        out.python_note = "python " + python_support().default_python +
                          " is what amlflow asks for when an environment sets no 'python_version'";
    }
    for (const char* key : {"conda_packages", "pip"}) {
        const Value* list = environment.fields.field(key);
        if (!list || list->kind != ValueKind::List) continue;
        const ast::Member* member = environment_member(environment.id, key);
        const ast::Expr* written = member && member->value ? member->value.get() : nullptr;
        bool itemwise = written && written->kind == ast::ExprKind::List && written->items.size() == list->items.size();
        for (size_t i = 0; i < list->items.size(); ++i) {
            if (list->items[i].kind != ValueKind::String) continue;
            SourceRange where = itemwise ? written->items[i]->range : written ? written->range : environment.range;
            out.packages.push_back({list->items[i].text, where, std::string(key) == "pip"});
        }
    }
    return out;
}

// Lists that the environment's own block gives but the service never sees: a `conda` file
// replaces them, and a `curated` environment inherited from a base is the service's own.
void Checker::warn_unused_lists(const CheckedDecl& environment, const char* because) {
    std::string curated_owner;
    environment_member(environment.id, "curated", &curated_owner);
    if (std::string(because) == "curated" && curated_owner == environment.id) return;  // a curated declaration's reference lists
    const ast::Decl* decl = decl_of(environment.id);
    if (!decl || !decl->block) return;
    for (const char* key : {"pip", "conda_packages", "channels", "python_version"}) {
        const ast::Member* member = find_member(decl->block.get(), key);
        if (!member) continue;
        Diagnostic& d = diagnostics_.warning("conda", member->key.range,
                                             "'" + std::string(key) + "' of environment '" + environment.name +
                                                 "' is not used on Azure ML");
        if (std::string(because) == "conda") {
            d.note("the 'conda' file is the environment's whole conda YAML").help("add it to the conda file instead");
        } else {
            d.note("'curated' names the service's own environment, which amlflow uses as it is")
                .help("set curated = \"\" to build an environment of your own from these lists");
        }
    }
}

}  // namespace amlflow::compiler
