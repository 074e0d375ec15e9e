// The checker: resolves names across modules, evaluates params (with `--set`
// overrides), lets and declarations, checks every step against the schema and the
// language's rules, and returns the CheckedProgram the plan is built from. It reports
// every error it finds; it never throws for a user's mistake.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "compiler/checked_program.h"
#include "compiler/schema.h"
#include "compiler/evaluator.h"
#include "compiler/host_entry.h"
#include "compiler/loader.h"

namespace amlflow::compiler {

struct CondaRequirements;  // conda_check.h

// The results a kind of step offers (`outputs`, `best`, ...) and their types, and those
// of a sweep's best trial: what `x.name` may read. The checker, the language server and
// the runtime's result names all follow this one table.
std::vector<std::pair<std::string, std::string>> step_results(ast::StepKind kind);
std::vector<std::pair<std::string, std::string>> trial_results();
// The schema of a kind of step's block.
const BlockSpec& step_schema(ast::StepKind kind);

// What this machine offers a local compute that leaves its slots unsaid (no `cpus`, or
// `gpus = all`).
struct MachineShape {
    int64_t cpus = 0;
    int64_t gpus = 0;
};

struct CheckOptions {
    std::vector<std::string> sets;  // "name=value", from `--set`
    // Asked at most once, and only when a job needs it. Unset (tests, the language
    // server): nothing is checked against the machine, so the outcome is the same anywhere.
    std::function<MachineShape()> machine;
    // `--compute NAME`: every job, binding and sweep runs on that declared compute, as if
    // each said `compute = NAME`; empty: where the file says.
    std::string compute;
    // Free each checked step's syntax tree (its block), except job templates, which later
    // steps bind: set by compile_file when it builds a plan, which needs only the checked
    // program; the trees and the evaluated values are then never all held at once.
    bool drop_step_trees = false;
    // Called with each step once it is checked, before the next: compile_file renders the
    // step's part of the plan there (render_step), which frees its evaluated values.
    std::function<void(CheckedStep&)> on_step_checked;
};

class Checker : public NameResolver {
public:
    Checker(const ModuleSet& modules, const CheckOptions& options, Diagnostics& diagnostics);

    CheckedProgram run();
    // The same, into `program`: storage the caller holds (compile_file's step renderer
    // works on the steps while the checker goes on).
    void run(CheckedProgram& program);
    // Sources made for `--set` values: diagnostics point into them.
    std::vector<std::shared_ptr<const SourceFile>> take_extra_sources() { return std::move(extra_sources_); }

    Value resolve(const ast::Identifier& name, const EvalScope& scope) override;
    Value member(const Value& object, const ast::Identifier& name, const ast::Expr& whole,
                 const EvalScope& scope) override;
    const std::filesystem::path& folder_of(size_t module) const override;
    bool knows(const std::string& name, const EvalScope& scope) const override;
    bool suggests(const std::string& name, const EvalScope& scope) const override;

private:
    struct Symbol {
        enum class Kind { Param, Let, Workspace, Environment, Compute, Import, Experiment };
        Kind kind;
        const ast::Decl* decl;
        size_t module;
        std::string id;  // "param:epochs", "environment:curated.pytorch_1_6_gpu", "module:1"
    };
    struct StepSymbol {
        ast::Step* step;  // not const: its tree may be freed once checked (drop_step_trees)
        std::string experiment;
    };
    // A hosts compute's entry as checked, with where it and its slot count are written.
    struct PlacedHost {
        HostEntry entry;
        SourceRange range;
        SourceRange slots_from;
        size_t index = 0;  // in the list
    };
    struct Lazy {
        enum class State { Todo, Busy, Done };
        State state = State::Todo;
        Value value;
    };

    // checker.cc: symbols and names
    void collect_symbols();
    void add_symbol(size_t module, const ast::Identifier& name, Symbol symbol, SourceRange range);
    std::vector<std::string> visible_names(const EvalScope& scope) const;
    Value value_of(const Symbol& symbol, const ast::Identifier& use);
    Value step_result(const StepSymbol& step, const ast::Identifier& name, const ast::Expr& whole);
    Value output_member(const Value& object, const ast::Identifier& name);
    std::string label_of(size_t module) const;

    // checker_params.cc: params, `--set`, types
    void apply_sets();
    void unknown_set(const std::string& name, SourceRange where, const std::vector<std::string>& params);
    Value evaluate_param(const Symbol& symbol);
    std::optional<FieldSpec> type_spec(const ast::TypeRef& type, bool report);

    // checker_decls.cc: workspaces, environments, computes
    void check_declarations();
    const CheckedDecl* environment(const std::string& id);
    const CheckedDecl* compute(const std::string& id);
    Value evaluate_environment(const Symbol& symbol);
    void check_workspace(const Symbol& symbol);
    void check_compute(const Symbol& symbol);
    std::string default_environment();
    std::string default_compute();
    // `--compute NAME` (checker_decls.cc): which compute it names, and where that is said.
    void apply_compute_override();
    void place_on_override(Value& fields, std::string& compute_id);
    void note_override(Diagnostic& diagnostic);

    // checker_hosts.cc: a hosts compute's entries, workdir, shared_fs and interface
    void check_hosts_compute(const Symbol& symbol, const Value& fields, const std::string& owner);
    void check_host_entries(const Symbol& symbol, const Value& fields, const std::string& owner);

    // checker_steps.cc: steps
    void check_steps(CheckedProgram& program);
    std::optional<CheckedStep> check_step(const StepSymbol& symbol);
    void check_job(const ast::Step& step, CheckedStep& out);
    void check_binding(const ast::Step& step, CheckedStep& out);
    void check_sweep(const ast::Step& step, CheckedStep& out);
    const ast::Step* template_job(const ast::Step& step, const char* what);
    std::vector<std::pair<std::string, Value>> template_locals(const ast::Step& job);
    // `bound_by`: the binding or sweep whose template `step` is, when it is one.
    void finish_job_fields(const ast::Step& step, CheckedStep& out, const ast::Step* bound_by = nullptr);

    // checker_rules.cc: rules across declarations
    void check_job_files(const ast::Step& step, const CheckedStep& job);
    bool check_source_include(const ast::Step& step, const CheckedStep& job);
    void check_sweep_space(const ast::Step& sweep, const ast::Step& job, const CheckedStep& out);
    void check_sweep_objective(const ast::Step& sweep, const ast::Step& job, const CheckedStep& out);
    void check_cycles(const CheckedProgram& program);
    void check_variable_names(const ast::Block* block);

    // checker_capacity.cc: what the compute holds and whether this build runs it
    void check_capacity(const ast::Step& step, const CheckedStep& job, const ast::Step* bound_by);
    bool capacity_site(const ast::Step& step, const ast::Step* bound_by, SourceRange& where);
    void check_local_capacity(const CheckedDecl& compute, const std::string& owner, int64_t per_node, SourceRange where);
    void check_hosts_capacity(const CheckedDecl& compute, const std::string& owner, int64_t nodes, int64_t per_node,
                              SourceRange where);
    // An `azureml://` value (Azure ML storage) in a job that runs on this machine or on hosts,
    // where nothing can read it: an error before anything runs.
    void check_service_uris(const ast::Step& step, const CheckedStep& job);
    void check_sweep_on_azureml(const ast::Step& sweep, const ast::Step& job, const CheckedStep& out);

    // checker_conda.cc: the conda YAML of environments that jobs on Azure ML use
    void check_azureml_environments(const CheckedProgram& program);
    void check_conda_environment(const CheckedDecl& environment);
    CondaRequirements inline_requirements(const CheckedDecl& environment);
    void warn_unused_lists(const CheckedDecl& environment, const char* because);
    const ast::Decl* decl_of(const std::string& id) const;
    const ast::Member* environment_member(const std::string& id, std::string_view key, std::string* owner = nullptr) const;

    const ast::Member* find_member(const ast::Block* block, std::string_view key) const;
    void warn_downloads_into_sources(const CheckedProgram& program);

    const ModuleSet& modules_;
    CheckOptions options_;
    Diagnostics& diagnostics_;
    Evaluator evaluator_;
    std::vector<std::map<std::string, Symbol>> symbols_;  // per module
    std::map<std::string, StepSymbol> steps_;
    std::vector<std::string> step_order_;
    std::map<std::string, Lazy> lazy_;  // params, lets and environments by id
    std::map<std::string, Value> param_overrides_;
    std::map<std::string, CheckedDecl> environments_;
    std::map<std::string, std::string> environment_bases_;  // an environment's id -> the one it derives from
    std::map<std::string, CheckedDecl> computes_;
    std::vector<CheckedDecl> workspaces_;
    std::map<std::string, std::vector<PlacedHost>> host_lists_;  // hosts computes whose entries are all right
    std::vector<std::string> used_environments_;
    std::vector<std::string> used_computes_;
    std::vector<std::shared_ptr<const SourceFile>> extra_sources_;
    std::vector<std::string> labels_;
    std::optional<MachineShape> machine_;  // asked of options_.machine when first needed
    std::string override_id_;     // `--compute`: the compute every job runs on, when it names one
    SourceRange override_range_;  // the name in the `--compute` source
};

}  // namespace amlflow::compiler
