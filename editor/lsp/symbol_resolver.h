// Names to the declarations they mean, across the modules of one compile: the same
// scoping the checker uses (a job template's parameters, then the module's own
// declarations, then its steps; `alias.x` reads an imported module), answered from the
// loaded ASTs so that hover, definition and completion agree with it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/checker.h"
#include "compiler/loader.h"

namespace amlflow::lsp {

struct Symbol {
    enum class Kind { Decl, Step, JobParam };
    Kind kind = Kind::Decl;
    size_t module = 0;                              // index into the ModuleSet
    const compiler::ast::Decl* decl = nullptr;      // Decl; for Step: its experiment
    const compiler::ast::Step* step = nullptr;      // Step; for JobParam: its job
    const compiler::ast::JobParam* param = nullptr; // JobParam

    const compiler::ast::Identifier& name() const;
};

class SymbolResolver {
public:
    explicit SymbolResolver(const compiler::ModuleSet& modules) : modules_(modules) {}

    // `name` written in `module`, inside `within` (a step, or null).
    std::optional<Symbol> resolve(size_t module, std::string_view name, const compiler::ast::Step* within) const;

    // A dotted path: `curated.local_torch`, `train`, `tune.best` (a step result resolves
    // to its step). `parts` are the names before and including the one wanted.
    std::optional<Symbol> resolve_path(size_t module, const std::vector<std::string>& parts,
                                       const compiler::ast::Step* within) const;

    // The module an import alias of `module` loaded, if it did.
    std::optional<size_t> imported(size_t module, std::string_view alias) const;

    // Every declaration and step of `module`, for completion.
    std::vector<Symbol> declarations(size_t module) const;

    const compiler::ast::Step* step_named(std::string_view name) const;

private:
    const compiler::ModuleSet& modules_;
};

// The results of steps and trials: compiler/checker.h's table.
using compiler::step_results;
using compiler::trial_results;

// The dotted names of an expression made of names and dots (`a.b.c` gives a, b, c);
// empty when it holds anything else.
std::vector<std::string> dotted_parts(const compiler::ast::Expr& expr);

}  // namespace amlflow::lsp
