#include "editor/lsp/completion.h"

#include <set>

#include "compiler/evaluator.h"
#include "editor/lsp/completion_context.h"
#include "editor/lsp/docs_table.h"
#include "editor/lsp/document_store.h"
#include "editor/lsp/symbol_markdown.h"
#include "editor/lsp/token_scan.h"

namespace amlflow::lsp {

namespace ast = compiler::ast;
namespace schema = compiler::schema;
using nlohmann::json;
using Where = CompletionContext::Where;
using compiler::FieldType;

namespace {

// LSP CompletionItemKind values.
enum ItemKind { kFunction = 3, kField = 5, kVariable = 6, kClass = 7, kModule = 9, kProperty = 10,
                kKeyword = 14, kEnumMember = 20, kStruct = 22, kEvent = 23, kTypeParameter = 25 };

class Items {
public:
    void add(const std::string& label, int kind, const std::string& detail = "", const std::string& doc = "",
             const std::string& insert = "") {
        if (label.empty() || !seen_.insert(label).second) return;
        json item = {{"label", label}, {"kind", kind}, {"sortText", sort_key()}};
        if (!detail.empty()) item["detail"] = detail;
        if (!doc.empty()) item["documentation"] = {{"kind", "markdown"}, {"value", doc}};
        if (!insert.empty()) item["insertText"] = insert;
        items_.push_back(std::move(item));
    }
    json list() const { return {{"isIncomplete", false}, {"items", items_}}; }

private:
    std::string sort_key() const {  // keeps the order items are offered in
        std::string n = std::to_string(items_.size());
        return std::string(6 - std::min<size_t>(n.size(), 6), '0') + n;
    }
    json items_ = json::array();
    std::set<std::string> seen_;
};

int symbol_item_kind(const Symbol& s) {
    if (s.kind == Symbol::Kind::Step) return kEvent;
    if (s.kind == Symbol::Kind::JobParam) return kVariable;
    switch (s.decl->kind) {
        case ast::DeclKind::Import: return kModule;
        case ast::DeclKind::Environment: return kClass;
        case ast::DeclKind::Compute:
        case ast::DeclKind::Workspace: return kStruct;
        default: return kVariable;
    }
}

void add_symbol(Items& items, const Symbol& s, const compiler::ModuleSet& modules, const std::string& label) {
    items.add(label, symbol_item_kind(s), symbol_signature(s), symbol_markdown(s, modules));
}

// Whether a declared name suits a value of `field`.
bool suits(const Symbol& s, const compiler::FieldSpec* field) {
    FieldType type = field ? field->type : FieldType::Any;
    auto decl_kind = [&](ast::DeclKind k) { return s.kind == Symbol::Kind::Decl && s.decl->kind == k; };
    switch (type) {
        case FieldType::Environment: return decl_kind(ast::DeclKind::Environment);
        case FieldType::Compute: return decl_kind(ast::DeclKind::Compute);
        case FieldType::Workspace: return decl_kind(ast::DeclKind::Workspace);
        case FieldType::StepList: return s.kind == Symbol::Kind::Step && !s.step->is_template;
        default:
            if (s.kind == Symbol::Kind::Step) return !s.step->is_template;
            return !decl_kind(ast::DeclKind::Experiment) && !decl_kind(ast::DeclKind::Workspace) &&
                   (!field || (!decl_kind(ast::DeclKind::Environment) && !decl_kind(ast::DeclKind::Compute)));
    }
}

// Names declared in the text that the last compile did not see (the parse lost them):
// `keyword name` pairs straight from the tokens.
void add_lexical_names(Items& items, const std::string& text, const compiler::FieldSpec* field,
                       const std::set<std::string>& known) {
    std::vector<Token> tokens = scan_tokens(text);
    FieldType type = field ? field->type : FieldType::Any;
    for (size_t i = 0; i + 1 < tokens.size(); ++i) {
        if (!tokens[i].keyword || tokens[i + 1].kind != TokenKind::Word) continue;
        const std::string& kw = tokens[i].text;
        bool step = kw == "job" || kw == "sweep" || kw == "download" || kw == "model" || kw == "onnx";
        bool wanted = type == FieldType::Environment ? kw == "environment"
                      : type == FieldType::Compute   ? kw == "compute"
                      : type == FieldType::Workspace ? kw == "workspace"
                      : type == FieldType::StepList  ? step
                      : (kw == "param" || kw == "let" || step);
        if (wanted && !known.count(tokens[i + 1].text)) items.add(tokens[i + 1].text, step ? kEvent : kVariable, kw + " " + tokens[i + 1].text);
    }
}

void add_names(Items& items, const Document& document, const CompletionContext& c) {
    const compiler::ModuleSet* modules = document.modules();
    std::set<std::string> known;  // every name the compile saw, offered or not
    if (modules && !modules->modules.empty()) {
        SymbolResolver resolver(*modules);
        for (const Symbol& s : resolver.declarations(0)) known.insert(s.name().name);
        if (const ast::Step* step = resolver.step_named(c.step); step && !c.field) {
            for (const ast::JobParam& p : step->params) add_symbol(items, Symbol{Symbol::Kind::JobParam, 0, nullptr, step, &p}, *modules, p.name.name);
        }
        for (const Symbol& s : resolver.declarations(0)) {
            if (suits(s, c.field)) add_symbol(items, s, *modules, s.name().name);
            bool is_import = s.kind == Symbol::Kind::Decl && s.decl->kind == ast::DeclKind::Import;
            auto target = is_import ? resolver.imported(0, s.decl->name.name) : std::nullopt;
            if (!target || !c.field) continue;
            // `curated.pytorch_1_6_gpu` where an environment is wanted.
            for (const Symbol& inner : resolver.declarations(*target)) {
                if (suits(inner, c.field)) add_symbol(items, inner, *modules, s.decl->name.name + "." + inner.name().name);
            }
        }
    }
    add_lexical_names(items, document.text, c.field, known);
}

void add_builtins(Items& items, bool search_space, bool objectives) {
    for (const BuiltinDoc& b : builtin_docs()) {
        bool wanted = search_space ? b.search_space : objectives ? b.objective : !b.search_space && !b.objective;
        if (wanted) items.add(std::string(b.name), kFunction, std::string(b.signature), std::string(b.doc));
    }
}

void add_values(Items& items, const Document& document, const CompletionContext& c) {
    const compiler::FieldSpec* field = c.field;
    for (const std::string& word : compiler::bare_words(field)) {
        items.add(word, kEnumMember, std::string(field->name), std::string(field->doc));
    }
    FieldType type = field ? field->type : FieldType::Any;
    if (type == FieldType::Objective) return add_builtins(items, false, true);
    if (type == FieldType::Bool) {
        items.add("true", kKeyword);
        items.add("false", kKeyword);
        return;
    }
    if (type == FieldType::Enum || type == FieldType::Distribution || type == FieldType::EarlyStop) return;
    add_names(items, document, c);
    bool references_only = type == FieldType::Environment || type == FieldType::Compute ||
                           type == FieldType::Workspace || type == FieldType::StepList;
    if (!references_only) add_builtins(items, c.block == CompletionContext::Block::SearchSpace, false);
}

void add_fields(Items& items, const compiler::BlockSpec& spec, const std::set<std::string>& written) {
    for (int pass = 0; pass < 2; ++pass) {  // required fields first
        for (const compiler::FieldSpec& f : spec.fields) {
            if (f.required != (pass == 0) || written.count(std::string(f.name))) continue;
            bool block = f.type == FieldType::Block || f.type == FieldType::SearchSpace;
            std::string name(f.name);
            items.add(name, kField, std::string(schema::describe(f.type)), field_markdown(spec, f),
                      block ? name + " { }" : name + " = ");
        }
    }
}

void add_keys(Items& items, const Document& document, const CompletionContext& c) {
    using Block = CompletionContext::Block;
    if (c.block == Block::TopLevel) {
        for (const char* kw : {"import", "param", "let", "workspace", "environment", "compute", "experiment"}) {
            items.add(kw, kKeyword, "", keyword_markdown(kw));
        }
    } else if (c.block == Block::Experiment) {
        for (const char* kw : {"job", "sweep", "register model", "export onnx", "download"}) {
            std::string first(kw, std::string(kw).find(' ') == std::string::npos ? std::string(kw).size() : std::string(kw).find(' '));
            items.add(kw, kKeyword, "", keyword_markdown(first));
        }
    } else if (c.block == Block::Fields && c.spec) {
        add_fields(items, *c.spec, c.written);
    } else if (c.block == Block::SearchSpace && document.modules() && !document.modules()->modules.empty()) {
        // The template's parameters not yet given a search space.
        SymbolResolver resolver(*document.modules());
        if (const ast::Step* job = resolver.step_named(c.step_target)) {
            for (const ast::JobParam& p : job->params) {
                if (c.written.count(p.name.name)) continue;
                add_symbol(items, Symbol{Symbol::Kind::JobParam, 0, nullptr, job, &p}, *document.modules(), p.name.name);
            }
        }
    }
}

void add_members(Items& items, const Document& document, const CompletionContext& c) {
    const compiler::ModuleSet* modules = document.modules();
    if (!modules || modules->modules.empty()) return;
    SymbolResolver resolver(*modules);
    if (c.chain.size() == 1) {
        if (auto target = resolver.imported(0, c.chain[0])) {
            for (const Symbol& s : resolver.declarations(*target)) {
                if (s.kind == Symbol::Kind::Decl && s.decl->kind != ast::DeclKind::Import &&
                    s.decl->kind != ast::DeclKind::Experiment) {
                    add_symbol(items, s, *modules, s.name().name);
                }
            }
            return;
        }
    }
    const ast::Step* step = resolver.step_named(c.chain[0]);
    if (step == nullptr || step->is_template) return;
    std::vector<std::pair<std::string, std::string>> results;
    bool trial = step->kind == ast::StepKind::Sweep && c.chain.size() >= 2 && c.chain[1] == "best";
    if (c.chain.size() == 1) results = step_results(step->kind);
    if (trial && c.chain.size() == 2) results = trial_results();
    for (const auto& [name, type] : results) items.add(name, kProperty, type, "result of `" + c.chain[0] + "`");
    const ast::Step* job = trial && step->target ? resolver.step_named(step->target->name) : nullptr;
    if (job && c.chain.size() == 3 && c.chain[2] == "params") {
        for (const ast::JobParam& p : job->params) items.add(p.name.name, kProperty, symbol_signature(Symbol{Symbol::Kind::JobParam, 0, nullptr, job, &p}));
    }
    if (job && c.chain.size() == 3 && c.chain[2] == "metrics" && job->block) {
        // The metrics the template declares it reports.
        for (const ast::Member& m : job->block->members) {
            if (m.key.name != "metrics" || !m.value || m.value->kind != ast::ExprKind::List) continue;
            for (const ast::ExprPtr& item : m.value->items) {
                if (item && item->kind == ast::ExprKind::String && item->parts.size() == 1 && !item->parts[0].expr) {
                    items.add(item->parts[0].text, kProperty, "metric");
                }
            }
        }
    }
}

void add_templates(Items& items, const Document& document) {
    const compiler::ModuleSet* modules = document.modules();
    if (!modules || modules->modules.empty()) return;
    SymbolResolver resolver(*modules);
    for (const Symbol& s : resolver.declarations(0)) {
        if (s.kind == Symbol::Kind::Step && s.step->is_template) add_symbol(items, s, *modules, s.name().name);
    }
}

}  // namespace

json completion(const Document& document, Position position) {
    uint32_t offset = document.index.offset_of(position);
    CompletionContext c = completion_context(document.text, offset);
    Items items;
    switch (c.where) {
        case Where::None: break;
        case Where::Key: add_keys(items, document, c); break;
        case Where::Value: add_values(items, document, c); break;
        case Where::Member: add_members(items, document, c); break;
        case Where::Type:
            for (std::string_view t : schema::type_names()) items.add(std::string(t), kTypeParameter);
            break;
        case Where::ComputeKind:
            for (std::string_view k : schema::compute_kinds()) {
                items.add(std::string(k), kEnumMember, "compute kind", block_markdown(*schema::compute(k)));
            }
            break;
        case Where::Template: add_templates(items, document); break;
        case Where::Base: {
            static const compiler::FieldSpec* environment_field = schema::job().find("environment");
            CompletionContext base = c;
            base.field = environment_field;
            add_names(items, document, base);
            break;
        }
    }
    return items.list();
}

}  // namespace amlflow::lsp
