#include "editor/lsp/definition.h"

#include "editor/lsp/ast_query.h"
#include "editor/lsp/document_store.h"
#include "editor/lsp/source_uri.h"
#include "editor/lsp/symbol_resolver.h"

namespace amlflow::lsp {

namespace ast = compiler::ast;
using nlohmann::json;
using Kind = Occurrence::Kind;

namespace {

json location(const Document& document, const compiler::SourceRange& range) {
    if (!range.valid()) return nullptr;
    TextIndex index(range.file->text());
    return {{"uri", uri_of_source(*range.file, document)}, {"range", index.range_json(range.begin, range.end)}};
}

// A job template's parameter named from a binding's argument or a sweep's space.
std::optional<Symbol> template_param(const SymbolResolver& resolver, const Occurrence& o) {
    if (o.step == nullptr || !o.step->target) return std::nullopt;
    const ast::Step* job = resolver.step_named(o.step->target->name);
    if (job == nullptr) return std::nullopt;
    for (const ast::JobParam& p : job->params) {
        if (p.name.name == o.word) return Symbol{Symbol::Kind::JobParam, 0, nullptr, job, &p};
    }
    return std::nullopt;
}

std::optional<Symbol> target_of(const SymbolResolver& resolver, const Occurrence& o) {
    switch (o.kind) {
        case Kind::Name:
        case Kind::Target: return resolver.resolve(0, o.word, o.kind == Kind::Name ? o.step : nullptr);
        case Kind::Member: {
            std::vector<std::string> parts = dotted_parts(*o.expr);
            // `train.outputs`, `tune.best.outputs`: the step whose result it is.
            auto first = parts.empty() ? std::nullopt : resolver.resolve(0, parts[0], o.step);
            if (first && first->kind == Symbol::Kind::Step) return first;
            return resolver.resolve_path(0, parts, o.step);
        }
        case Kind::BindArg:
        case Kind::SpaceKey: return template_param(resolver, o);
        case Kind::Base: {
            std::vector<std::string> parts;
            for (size_t i = 0; i <= o.base_index && i < o.decl->base.size(); ++i) parts.push_back(o.decl->base[i].name);
            return resolver.resolve_path(0, parts, nullptr);
        }
        case Kind::Declaration: return Symbol{Symbol::Kind::Decl, 0, o.decl};
        case Kind::Step: return Symbol{Symbol::Kind::Step, 0, o.decl, o.step};
        case Kind::JobParam: return Symbol{Symbol::Kind::JobParam, 0, nullptr, o.step, o.param};
        default: return std::nullopt;
    }
}

}  // namespace

json definition(const Document& document, Position position) {
    const compiler::LoadedModule* module = document.module();
    if (module == nullptr) return nullptr;
    auto o = occurrence_at(*module->ast, document.index.offset_of(position));
    if (!o) return nullptr;
    const compiler::ModuleSet& modules = document.compiled->modules;
    SymbolResolver resolver(modules);
    if (o->kind == Kind::Import) {
        auto target = resolver.imported(0, o->decl->name.name);
        if (!target) return nullptr;
        const compiler::SourceFile& file = *modules.modules[*target]->ast->source;
        return location(document, compiler::SourceRange{&file, 0, 0});
    }
    auto symbol = target_of(resolver, *o);
    if (!symbol) return nullptr;
    const compiler::SourceRange& name = symbol->name().range;
    if (name.valid() && name.file != modules.modules[symbol->module]->ast->source.get()) return nullptr;
    return location(document, name);
}

}  // namespace amlflow::lsp
