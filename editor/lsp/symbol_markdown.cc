#include "editor/lsp/symbol_markdown.h"

#include "editor/lsp/ast_query.h"

namespace amlflow::lsp {

namespace ast = compiler::ast;

namespace {

constexpr size_t kMaxValueText = 160;

// Source text as written, on one line and cut short: a value shown in a tooltip.
std::string shown(const compiler::SourceRange& range) {
    std::string out;
    bool space = false;
    for (char c : range.text()) {
        if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
            space = !out.empty();
            continue;
        }
        if (space) out.push_back(' ');
        space = false;
        out.push_back(c);
        if (out.size() > kMaxValueText) return out + " …";
    }
    return out;
}

std::string type_text(const ast::TypeRef& type) { return shown(type.range); }

std::string params_text(const ast::Step& step) {
    std::string out;
    for (const ast::JobParam& param : step.params) {
        if (!out.empty()) out += ", ";
        out += param.name.name + ": " + type_text(param.type);
        if (param.default_value) out += " = " + shown(param.default_value->range);
    }
    return "(" + out + ")";
}

std::string fields_text(const ast::Block* block) {
    std::string out;
    if (block == nullptr) return out;
    for (const ast::Member& member : block->members) {
        out += "\n  " + member.key.name;
        out += member.value ? " = " + shown(member.value->range) : " { … }";
    }
    return out;
}

std::string module_label(const Symbol& symbol, const compiler::ModuleSet& modules) {
    if (symbol.module == 0 || symbol.module >= modules.modules.size()) return "";
    return "\n\nDeclared in `" + modules.modules[symbol.module]->ast->source->path() + "`";
}

}  // namespace

std::string symbol_kind_word(const Symbol& symbol) {
    if (symbol.kind == Symbol::Kind::JobParam) return "parameter";
    if (symbol.kind == Symbol::Kind::Step) return ast::step_kind_name(symbol.step->kind);
    return ast::decl_kind_name(symbol.decl->kind);
}

std::string symbol_signature(const Symbol& symbol) {
    if (symbol.kind == Symbol::Kind::JobParam) {
        const ast::JobParam& p = *symbol.param;
        return p.name.name + ": " + type_text(p.type) + (p.default_value ? " = " + shown(p.default_value->range) : "");
    }
    if (symbol.kind == Symbol::Kind::Step) {
        const ast::Step& step = *symbol.step;
        std::string out = std::string(ast::step_kind_name(step.kind)) + " " + step.name.name;
        if (step.is_template) out += params_text(step);
        if (step.kind == ast::StepKind::Sweep && step.target) out += " over " + step.target->name;
        if (step.kind == ast::StepKind::Job && step.target) out += " = " + step.target->name + "(…)";
        return out;
    }
    const ast::Decl& d = *symbol.decl;
    std::string head = std::string(ast::decl_kind_name(d.kind)) + " " + d.name.name;
    switch (d.kind) {
        case ast::DeclKind::Import: return "import \"" + d.import_path + "\"" + (d.explicit_alias ? " as " + d.name.name : "");
        case ast::DeclKind::Param:
            return head + (d.has_type ? ": " + type_text(d.type) : "") + (d.value ? " = " + shown(d.value->range) : "");
        case ast::DeclKind::Let: return head + (d.value ? " = " + shown(d.value->range) : "");
        case ast::DeclKind::Compute: return head + " : " + d.compute_kind.name;
        case ast::DeclKind::Environment: {
            std::string base;
            for (const ast::Identifier& part : d.base) base += (base.empty() ? "" : ".") + part.name;
            return head + (base.empty() ? "" : " from " + base);
        }
        default: return head;
    }
}

std::string symbol_markdown(const Symbol& symbol, const compiler::ModuleSet& modules) {
    std::string code = symbol_signature(symbol);
    std::string notes;
    if (symbol.kind == Symbol::Kind::JobParam) {
        notes = "Parameter of the job template `" + symbol.step->name.name + "`: each binding or sweep trial sets it.";
    } else if (symbol.kind == Symbol::Kind::Step) {
        code += " {" + fields_text(symbol.step->block.get()) + "\n}";
        notes = "Results:";
        for (const auto& [name, type] : step_results(symbol.step->kind)) notes += " `" + name + "` (" + type + ")";
        if (symbol.step->is_template) notes = "A template: it runs only through a sweep or a binding.";
    } else {
        const ast::Decl& d = *symbol.decl;
        switch (d.kind) {
            case ast::DeclKind::Param:
                if (symbol.module == 0) notes = "Set from the command line: `--set " + d.name.name + "=…`";
                if (d.value) notes = "Default: `" + shown(d.value->range) + "`." + (notes.empty() ? "" : " " + notes);
                break;
            case ast::DeclKind::Workspace:
            case ast::DeclKind::Environment:
            case ast::DeclKind::Compute:
                code += " {" + fields_text(d.block.get()) + "\n}";
                break;
            case ast::DeclKind::Experiment:
                notes = std::to_string(d.steps.size()) + " step" + (d.steps.size() == 1 ? "" : "s") + ":";
                for (const ast::Step& step : d.steps) notes += " `" + step.name.name + "`";
                break;
            case ast::DeclKind::Import: {
                notes = "Declarations are read as `" + d.name.name + ".name`.";
                break;
            }
            default: break;
        }
    }
    std::string out = "```amlflow\n" + code + "\n```";
    if (!notes.empty()) out += "\n\n" + notes;
    return out + module_label(symbol, modules);
}

}  // namespace amlflow::lsp
