#include "editor/lsp/document_symbols.h"

#include "editor/lsp/document_store.h"
#include "editor/lsp/symbol_markdown.h"

namespace amlflow::lsp {

namespace ast = compiler::ast;
using nlohmann::json;

namespace {

// LSP SymbolKind values.
enum SymbolKind { kModule = 2, kNamespace = 3, kClass = 5, kField = 8, kFunction = 12, kVariable = 13,
                  kConstant = 14, kObject = 19, kStruct = 23, kEvent = 24, kTypeParameter = 26 };

int kind_of(ast::DeclKind kind) {
    switch (kind) {
        case ast::DeclKind::Import: return kModule;
        case ast::DeclKind::Param: return kVariable;
        case ast::DeclKind::Let: return kConstant;
        case ast::DeclKind::Workspace: return kObject;
        case ast::DeclKind::Environment: return kClass;
        case ast::DeclKind::Compute: return kStruct;
        case ast::DeclKind::Experiment: return kNamespace;
    }
    return kVariable;
}

json symbol(const Document& document, const std::string& name, const std::string& detail, int kind,
            const compiler::SourceRange& whole, const compiler::SourceRange& selection) {
    // The protocol wants the selection inside the whole range.
    uint32_t begin = std::min(whole.begin, selection.begin), end = std::max(whole.end, selection.end);
    json out = {{"name", name.empty() ? "?" : name},
                {"kind", kind},
                {"range", document.index.range_json(begin, end)},
                {"selectionRange", document.index.range_json(selection.begin, selection.end)}};
    if (!detail.empty()) out["detail"] = detail;
    return out;
}

json fields(const Document& document, const ast::Block* block) {
    json children = json::array();
    if (block == nullptr) return children;
    for (const ast::Member& member : block->members) {
        if (member.key.name.empty()) continue;
        children.push_back(symbol(document, member.key.name, "", kField, member.range, member.key.range));
    }
    return children;
}

json step_symbol(const Document& document, const ast::Decl& experiment, const ast::Step& step) {
    Symbol s{Symbol::Kind::Step, 0, &experiment, &step};
    json out = symbol(document, step.name.name, symbol_signature(s), step.kind == ast::StepKind::Sweep ? kEvent : kFunction,
                      step.range, step.name.range);
    json children = json::array();
    for (const ast::JobParam& p : step.params) {
        children.push_back(symbol(document, p.name.name, symbol_signature(Symbol{Symbol::Kind::JobParam, 0, nullptr, &step, &p}),
                                  kTypeParameter, p.range, p.name.range));
    }
    for (json& field : fields(document, step.block.get())) children.push_back(std::move(field));
    out["children"] = children;
    return out;
}

}  // namespace

json document_symbols(const Document& document) {
    json out = json::array();
    const compiler::LoadedModule* module = document.module();
    if (module == nullptr) return out;
    for (const ast::Decl& decl : module->ast->decls) {
        if (decl.name.name.empty() || !decl.name.range.valid()) continue;
        Symbol s{Symbol::Kind::Decl, 0, &decl};
        json item = symbol(document, decl.name.name, symbol_signature(s), kind_of(decl.kind), decl.range, decl.name.range);
        json children = fields(document, decl.block.get());
        for (const ast::Step& step : decl.steps) children.push_back(step_symbol(document, decl, step));
        if (!children.empty()) item["children"] = children;
        out.push_back(std::move(item));
    }
    return out;
}

}  // namespace amlflow::lsp
