#include "editor/lsp/hover.h"

#include <algorithm>

#include "compiler/evaluator.h"
#include "editor/lsp/ast_query.h"
#include "editor/lsp/docs_table.h"
#include "editor/lsp/document_store.h"
#include "editor/lsp/symbol_markdown.h"
#include "editor/lsp/token_scan.h"

namespace amlflow::lsp {

namespace ast = compiler::ast;
namespace schema = compiler::schema;
using nlohmann::json;
using Kind = Occurrence::Kind;

namespace {

std::string type_markdown(const std::string& name) {
    auto names = schema::type_names();
    if (std::find(names.begin(), names.end(), name) == names.end()) return "";
    return "**" + name + "** (type)\n\nParam types: int, float, bool, string, duration, size, path, list[T].";
}

// A step result: `train.outputs`, `tune.best`, `tune.best.outputs`.
std::string result_markdown(const SymbolResolver& resolver, const std::vector<std::string>& parts) {
    const ast::Step* step = parts.size() >= 2 ? resolver.step_named(parts[0]) : nullptr;
    if (step == nullptr) return "";
    auto results = step_results(step->kind);
    bool trial = step->kind == ast::StepKind::Sweep && parts.size() >= 3 && parts[1] == "best";
    if (trial && parts.size() > 3) {
        return "**" + parts.back() + "**: the best trial's " + (parts[2] == "params" ? "parameter" : "metric") +
               " — of sweep `" + step->name.name + "`, known when it has run";
    }
    if (trial) results = trial_results();
    const std::string& wanted = parts.back();
    for (const auto& [name, type] : results) {
        if (name != wanted) continue;
        std::string owner = trial ? "the best trial of sweep `" + step->name.name + "`"
                                  : std::string(ast::step_kind_name(step->kind)) + " `" + step->name.name + "`";
        return "**" + name + "**: " + type + " — result of " + owner + ", known when it has run";
    }
    return "";
}

// The markdown for a job template's parameter named from a binding, a sweep's space.
std::string template_param_markdown(const SymbolResolver& resolver, const Occurrence& o) {
    if (o.step == nullptr || !o.step->target) return "";
    const ast::Step* job = resolver.step_named(o.step->target->name);
    if (job == nullptr) return "";
    for (const ast::JobParam& param : job->params) {
        if (param.name.name == o.word) return symbol_markdown(Symbol{Symbol::Kind::JobParam, 0, nullptr, job, &param}, {});
    }
    return "";
}

std::string symbol_text(const SymbolResolver& resolver, const compiler::ModuleSet& modules,
                        const std::optional<Symbol>& symbol) {
    return symbol ? symbol_markdown(*symbol, modules) : "";
}

std::string occurrence_markdown(const Occurrence& o, const compiler::ModuleSet& modules) {
    SymbolResolver resolver(modules);
    switch (o.kind) {
        case Kind::Field:
            if (o.field) return field_markdown(*o.block, *o.field);
            return "`" + o.word + "` is not a field of `" + std::string(o.block->name) + "`\n\n" + block_markdown(*o.block);
        case Kind::Name: {
            auto words = compiler::bare_words(o.field);
            if (std::find(words.begin(), words.end(), o.word) != words.end()) {
                return "`" + o.word + "`: a value of `" + std::string(o.field->name) + "`, " +
                       std::string(schema::describe(o.field->type));
            }
            return symbol_text(resolver, modules, resolver.resolve(0, o.word, o.step));
        }
        case Kind::Member: {
            auto parts = dotted_parts(*o.expr);
            if (std::string text = result_markdown(resolver, parts); !text.empty()) return text;
            return symbol_text(resolver, modules, resolver.resolve_path(0, parts, o.step));
        }
        case Kind::Call:
            if (const BuiltinDoc* doc = find_builtin(o.word)) return "```amlflow\n" + std::string(doc->signature) + "\n```\n\n" + std::string(doc->doc);
            return "";
        case Kind::Construct: return o.block ? block_markdown(*o.block) : "";
        case Kind::ComputeKind: {
            const compiler::BlockSpec* spec = schema::compute(o.word);
            return spec ? block_markdown(*spec) : "";
        }
        case Kind::Declaration: return symbol_text(resolver, modules, Symbol{Symbol::Kind::Decl, 0, o.decl});
        case Kind::Step:
            return symbol_markdown(Symbol{Symbol::Kind::Step, 0, o.decl, o.step}, modules) + "\n\n" +
                   block_markdown(step_spec(o.step->kind));
        case Kind::JobParam: return symbol_markdown(Symbol{Symbol::Kind::JobParam, 0, nullptr, o.step, o.param}, modules);
        case Kind::Target: return symbol_text(resolver, modules, resolver.resolve(0, o.word, nullptr));
        case Kind::BindArg:
        case Kind::SpaceKey: return template_param_markdown(resolver, o);
        case Kind::Base: {
            std::vector<std::string> parts;
            for (size_t i = 0; i <= o.base_index && i < o.decl->base.size(); ++i) parts.push_back(o.decl->base[i].name);
            return symbol_text(resolver, modules, resolver.resolve_path(0, parts, nullptr));
        }
        case Kind::Type: return type_markdown(o.word);
        case Kind::Import: {
            std::string out = symbol_markdown(Symbol{Symbol::Kind::Decl, 0, o.decl}, modules);
            auto target = resolver.imported(0, o.decl->name.name);
            if (!target) return out;
            out += "\n\n`" + modules.modules[*target]->ast->source->path() + "` declares:";
            for (const Symbol& s : resolver.declarations(*target)) out += " `" + s.name().name + "`";
            return out;
        }
    }
    return "";
}

// A keyword under the position, as the lexer sees it: not a word inside a comment or a
// string. Reached when the AST has nothing there: `job`, `sweep`, `over`, `from`, ...
std::string keyword_at(const Document& document, uint32_t offset, compiler::SourceRange* where) {
    for (const Token& token : scan_tokens(document.text)) {
        if (token.begin > offset) break;
        if (token.end < offset || !token.keyword) continue;
        *where = {nullptr, token.begin, token.end};
        return keyword_markdown(token.text);
    }
    return "";
}

}  // namespace

json hover(const Document& document, Position position) {
    const compiler::LoadedModule* module = document.module();
    uint32_t offset = document.index.offset_of(position);
    std::string markdown;
    compiler::SourceRange where;
    if (module) {
        if (auto o = occurrence_at(*module->ast, offset)) {
            markdown = occurrence_markdown(*o, document.compiled->modules);
            where = o->range;
        }
    }
    if (markdown.empty()) markdown = keyword_at(document, offset, &where);
    if (markdown.empty()) return nullptr;
    json result = {{"contents", {{"kind", "markdown"}, {"value", markdown}}}};
    if (where.end > where.begin) result["range"] = document.index.range_json(where.begin, where.end);
    return result;
}

}  // namespace amlflow::lsp
