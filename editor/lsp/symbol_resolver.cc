#include "editor/lsp/symbol_resolver.h"

namespace amlflow::lsp {

namespace ast = compiler::ast;

const ast::Identifier& Symbol::name() const {
    if (kind == Kind::JobParam) return param->name;
    if (kind == Kind::Step) return step->name;
    return decl->name;
}

std::optional<size_t> SymbolResolver::imported(size_t module, std::string_view alias) const {
    if (module >= modules_.modules.size()) return std::nullopt;
    for (const auto& [name, index] : modules_.modules[module]->imports) {
        if (name == alias) return index;
    }
    return std::nullopt;
}

const ast::Step* SymbolResolver::step_named(std::string_view name) const {
    if (modules_.modules.empty()) return nullptr;
    for (const ast::Decl& decl : modules_.modules[0]->ast->decls) {
        for (const ast::Step& step : decl.steps) {
            if (step.name.name == name) return &step;
        }
    }
    return nullptr;
}

std::optional<Symbol> SymbolResolver::resolve(size_t module, std::string_view name, const ast::Step* within) const {
    if (module >= modules_.modules.size()) return std::nullopt;
    if (within) {
        for (const ast::JobParam& param : within->params) {
            if (param.name.name == name) return Symbol{Symbol::Kind::JobParam, module, nullptr, within, &param};
        }
    }
    const ast::Module& tree = *modules_.modules[module]->ast;
    // The first declaration wins, as in the checker (a duplicate is an error there).
    for (const ast::Decl& decl : tree.decls) {
        if (decl.name.name == name && decl.kind != ast::DeclKind::Experiment) return Symbol{Symbol::Kind::Decl, module, &decl};
    }
    for (const ast::Decl& decl : tree.decls) {
        if (decl.kind != ast::DeclKind::Experiment) continue;
        if (decl.name.name == name) return Symbol{Symbol::Kind::Decl, module, &decl};
        for (const ast::Step& step : decl.steps) {
            if (step.name.name == name) return Symbol{Symbol::Kind::Step, module, &decl, &step};
        }
    }
    return std::nullopt;
}

std::optional<Symbol> SymbolResolver::resolve_path(size_t module, const std::vector<std::string>& parts,
                                                   const ast::Step* within) const {
    if (parts.empty()) return std::nullopt;
    std::optional<Symbol> current = resolve(module, parts[0], within);
    for (size_t i = 1; i < parts.size() && current; ++i) {
        bool is_import = current->kind == Symbol::Kind::Decl && current->decl->kind == ast::DeclKind::Import;
        if (!is_import) return current;  // a step's result, a map key: the step (or value) itself
        auto target = imported(current->module, current->decl->name.name);
        if (!target) return std::nullopt;
        current = resolve(*target, parts[i], nullptr);
    }
    return current;
}

std::vector<Symbol> SymbolResolver::declarations(size_t module) const {
    std::vector<Symbol> out;
    if (module >= modules_.modules.size()) return out;
    for (const ast::Decl& decl : modules_.modules[module]->ast->decls) {
        if (decl.name.name.empty()) continue;
        out.push_back(Symbol{Symbol::Kind::Decl, module, &decl});
        for (const ast::Step& step : decl.steps) {
            if (!step.name.name.empty()) out.push_back(Symbol{Symbol::Kind::Step, module, &decl, &step});
        }
    }
    return out;
}

std::vector<std::string> dotted_parts(const ast::Expr& expr) {
    if (expr.kind == ast::ExprKind::Name) return {expr.name.name};
    if (expr.kind != ast::ExprKind::Member || !expr.object) return {};
    std::vector<std::string> parts = dotted_parts(*expr.object);
    if (parts.empty()) return {};
    parts.push_back(expr.name.name);
    return parts;
}

}  // namespace amlflow::lsp
