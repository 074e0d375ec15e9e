#include "compiler/ast_builder.h"

#include <cmath>
#include <limits>
#include <typeinfo>

#include "AmlflowParser.h"
#include "compiler/string_literal.h"

namespace amlflow::compiler {

using grammar::AmlflowParser;
using P = AmlflowParser;

namespace {

// The grammar's contexts are leaf classes, so an exact type test serves: typeid's
// comparison is a pointer compare when the types match, where dynamic_cast (and the
// generated accessors, which dynamic_cast every child) walks the class hierarchy comparing
// type names. On a large file that walk was a tenth of the whole compile. The base
// classes are listed too: a context whose alternative was never predicted (after a
// syntax error) keeps its base type.
template <typename T>
bool is(antlr4::tree::ParseTree* node) {
    return node != nullptr && typeid(*node) == typeid(T);
}

bool is_expr(antlr4::tree::ParseTree* node) {
    return is<P::PrimaryExprContext>(node) || is<P::MemberExprContext>(node) || is<P::AddExprContext>(node) ||
           is<P::MultiplyExprContext>(node) || is<P::NegateExprContext>(node) || is<P::ExprContext>(node);
}

bool is_primary(antlr4::tree::ParseTree* node) {
    return is<P::LiteralPrimaryContext>(node) || is<P::NamePrimaryContext>(node) || is<P::ListPrimaryContext>(node) ||
           is<P::ConstructPrimaryContext>(node) || is<P::CallPrimaryContext>(node) || is<P::MapPrimaryContext>(node) ||
           is<P::ParenPrimaryContext>(node) || is<P::PrimaryContext>(node);
}

bool is_member(antlr4::tree::ParseTree* node) {
    return is<P::AssignMemberContext>(node) || is<P::BlockMemberContext>(node) || is<P::MemberContext>(node);
}

// The `index`-th child that `test` accepts, as the generated getRuleContext<T>(index).
template <typename T, typename Test>
T* child(antlr4::ParserRuleContext* context, Test test, size_t index = 0) {
    for (antlr4::tree::ParseTree* c : context->children) {
        if (test(c) && index-- == 0) return static_cast<T*>(c);
    }
    return nullptr;
}

P::ExprContext* child_expr(antlr4::ParserRuleContext* context, size_t index = 0) {
    return child<P::ExprContext>(context, is_expr, index);
}

P::IdentContext* child_ident(antlr4::ParserRuleContext* context) {
    return child<P::IdentContext>(context, is<P::IdentContext>);
}

P::BlockContext* child_block(antlr4::ParserRuleContext* context) {
    return child<P::BlockContext>(context, is<P::BlockContext>);
}

class Builder {
public:
    Builder(const SourceFile& file, const OffsetMap& offsets, Diagnostics& diagnostics, bool recovered)
        : file_(file), offsets_(offsets), diagnostics_(diagnostics), recovered_(recovered) {}

    std::vector<ast::Decl> file(P::FileContext* context);
    std::optional<ast::Step> step(P::StepContext* context);
    ast::ExprPtr expr(P::ExprContext* context);

private:
    SourceRange range(antlr4::ParserRuleContext* context) const;
    SourceRange range(antlr4::tree::TerminalNode* node) const;
    SourceRange range(antlr4::Token* token) const;
    ast::Identifier ident(P::IdentContext* context) const;
    bool broken(antlr4::ParserRuleContext* context) const;

    std::optional<ast::Decl> top_decl(P::TopDeclContext* context);
    ast::Decl import_decl(P::ImportDeclContext* context);
    ast::Decl experiment(P::ExperimentDeclContext* context);
    ast::Step job(P::JobStepContext* context);
    ast::TypeRef type_ref(P::TypeRefContext* context);
    ast::BlockPtr block(P::BlockContext* context);
    std::optional<ast::Member> member(P::MemberContext* context);
    std::vector<ast::Arg> args(P::ArgsContext* context);
    ast::ExprPtr primary(P::PrimaryContext* context);
    ast::ExprPtr literal(P::LiteralContext* context);
    ast::ExprPtr number_with_unit(antlr4::Token* token, ast::ExprKind kind);
    ast::ExprPtr error_expr(SourceRange where) const;

    const SourceFile& file_;
    const OffsetMap& offsets_;
    Diagnostics& diagnostics_;
    bool recovered_;  // false: the parse had no syntax error, no subtree can be broken
    int depth_ = 0;  // of expressions being built, against kMaxDepth
    bool depth_reported_ = false;
};

// Deeper expressions are refused, not built: every later phase recurses over the tree,
// and a 10,000-term sum must not overflow the stack of the checker or the server.
constexpr int kMaxDepth = 500;

SourceRange Builder::range(antlr4::Token* token) const {
    if (token == nullptr || token->getStartIndex() == INVALID_INDEX) {
        return {&file_, offsets_.base(), offsets_.base()};
    }
    return {&file_, offsets_.byte_offset(token->getStartIndex()),
            offsets_.byte_offset(token->getStopIndex() + 1)};
}

SourceRange Builder::range(antlr4::tree::TerminalNode* node) const {
    return node ? range(node->getSymbol()) : SourceRange{&file_, offsets_.base(), offsets_.base()};
}

SourceRange Builder::range(antlr4::ParserRuleContext* context) const {
    if (context == nullptr) return {&file_, offsets_.base(), offsets_.base()};
    SourceRange first = range(context->getStart());
    antlr4::Token* stop = context->getStop();
    if (stop == nullptr || stop->getStartIndex() == INVALID_INDEX ||
        stop->getTokenIndex() < context->getStart()->getTokenIndex()) {
        return first;
    }
    return SourceRange::cover(first, range(stop));
}

ast::Identifier Builder::ident(P::IdentContext* context) const {
    if (context == nullptr || context->getStart() == nullptr) return {"", range(context)};
    // An identifier is one token: its text, without getText()'s walk over the children.
    if (context->getStart() == context->getStop()) return {context->getStart()->getText(), range(context)};
    return {context->getText(), range(context)};
}

// A subtree the parser had to recover inside: an exception on a context or a token it
// skipped (an error node) anywhere below.
bool Builder::broken(antlr4::ParserRuleContext* context) const {
    if (!recovered_) return context == nullptr;
    // Iterative: a left-deep chain of 10,000 additions is 10,000 levels of tree.
    std::vector<antlr4::ParserRuleContext*> pending{context};
    while (!pending.empty()) {
        antlr4::ParserRuleContext* current = pending.back();
        pending.pop_back();
        if (current == nullptr || current->exception != nullptr) return true;
        for (antlr4::tree::ParseTree* child : current->children) {
            if (dynamic_cast<antlr4::tree::ErrorNode*>(child)) return true;
            if (auto* rule = dynamic_cast<antlr4::ParserRuleContext*>(child)) pending.push_back(rule);
            if (auto* terminal = dynamic_cast<antlr4::tree::TerminalNode*>(child);
                terminal && terminal->getSymbol()->getTokenIndex() == INVALID_INDEX) {
                return true;  // a token the parser conjured up ("missing '='")
            }
        }
    }
    return false;
}

ast::ExprPtr Builder::error_expr(SourceRange where) const {
    auto e = std::make_unique<ast::Expr>();
    e->kind = ast::ExprKind::Error;
    e->range = where;
    return e;
}

std::vector<ast::Decl> Builder::file(P::FileContext* context) {
    std::vector<ast::Decl> decls;
    for (P::TopDeclContext* top : context->topDecl()) {
        if (auto decl = top_decl(top)) decls.push_back(std::move(*decl));
    }
    return decls;
}

std::optional<ast::Decl> Builder::top_decl(P::TopDeclContext* context) {
    ast::Decl decl;
    decl.range = range(context);
    if (auto* c = context->importDecl()) return import_decl(c);
    if (auto* c = context->experimentDecl()) return experiment(c);
    if (auto* c = context->paramDecl()) {
        decl.kind = ast::DeclKind::Param;
        decl.broken = broken(c);
        decl.keyword_range = range(c->PARAM());
        decl.name = ident(c->ident());
        if (c->typeRef()) {
            decl.type = type_ref(c->typeRef());
            decl.has_type = true;
        }
        if (c->expr()) decl.value = expr(c->expr());
    } else if (auto* c = context->letDecl()) {
        decl.kind = ast::DeclKind::Let;
        decl.broken = broken(c);
        decl.keyword_range = range(c->LET());
        decl.name = ident(c->ident());
        decl.value = c->expr() ? expr(c->expr()) : error_expr(decl.range);
    } else if (auto* c = context->workspaceDecl()) {
        decl.kind = ast::DeclKind::Workspace;
        decl.keyword_range = range(c->WORKSPACE());
        decl.name = ident(c->ident());
        decl.block = block(c->block());
    } else if (auto* c = context->environmentDecl()) {
        decl.kind = ast::DeclKind::Environment;
        decl.keyword_range = range(c->ENVIRONMENT());
        decl.name = ident(c->ident());
        if (c->qualifiedName()) {
            for (P::IdentContext* part : c->qualifiedName()->ident()) decl.base.push_back(ident(part));
        }
        decl.block = block(c->block());
    } else if (auto* c = context->computeDecl()) {
        decl.kind = ast::DeclKind::Compute;
        decl.keyword_range = range(c->COMPUTE());
        decl.name = ident(c->ident(0));
        decl.compute_kind = ident(c->ident(1));
        decl.block = block(c->block());
    } else {
        return std::nullopt;
    }
    if (decl.name.name.empty()) return std::nullopt;
    return decl;
}

ast::Decl Builder::import_decl(P::ImportDeclContext* context) {
    ast::Decl decl;
    decl.kind = ast::DeclKind::Import;
    decl.range = range(context);
    decl.keyword_range = range(context->IMPORT());
    if (context->STRING()) {
        SourceRange where = range(context->STRING());
        decl.import_path_range = where;
        auto parts = decode_string_literal(file_, where.begin, where.end, diagnostics_);
        for (const ast::StringPart& part : parts) {
            if (part.expr) {
                diagnostics_.error("syntax", part.range, "an import path cannot interpolate values");
            } else {
                decl.import_path += part.text;
            }
        }
    }
    if (context->ident()) {
        decl.name = ident(context->ident());
        decl.explicit_alias = true;
    } else {
        // `import "std/curated"` is used as `curated.x`; `import "lib/common.amlflow"` as `common.x`.
        std::string path = decl.import_path;
        size_t slash = path.find_last_of('/');
        std::string stem = slash == std::string::npos ? path : path.substr(slash + 1);
        if (size_t dot = stem.find('.'); dot != std::string::npos) stem.resize(dot);
        decl.name = {stem, decl.import_path_range};
    }
    return decl;
}

ast::Decl Builder::experiment(P::ExperimentDeclContext* context) {
    ast::Decl decl;
    decl.kind = ast::DeclKind::Experiment;
    decl.range = range(context);
    decl.keyword_range = range(context->EXPERIMENT());
    decl.name = ident(context->ident());
    for (P::StepContext* s : context->step()) {
        if (auto built = step(s)) decl.steps.push_back(std::move(*built));
    }
    return decl;
}

std::optional<ast::Step> Builder::step(P::StepContext* context) {
    ast::Step step;
    if (auto* c = context->jobStep()) {
        step = job(c);
    } else if (auto* c = context->sweepStep()) {
        step.kind = ast::StepKind::Sweep;
        step.keyword_range = range(c->SWEEP());
        step.name = ident(c->ident(0));
        if (c->ident(1)) step.target = ident(c->ident(1));
        step.block = block(c->block());
    } else if (auto* c = context->registerStep()) {
        step.kind = ast::StepKind::Register;
        step.keyword_range = SourceRange::cover(range(c->REGISTER()), range(c->MODEL()));
        step.name = ident(c->ident());
        step.block = block(c->block());
    } else if (auto* c = context->exportStep()) {
        step.kind = ast::StepKind::Export;
        step.keyword_range = SourceRange::cover(range(c->EXPORT()), range(c->ONNX()));
        step.name = ident(c->ident());
        step.block = block(c->block());
    } else if (auto* c = context->downloadStep()) {
        step.kind = ast::StepKind::Download;
        step.keyword_range = range(c->DOWNLOAD());
        step.name = ident(c->ident());
        step.block = block(c->block());
    } else {
        return std::nullopt;
    }
    step.range = range(context);
    if (step.name.name.empty()) return std::nullopt;
    if (!step.block) {
        step.block = std::make_unique<ast::Block>();
        step.block->range = step.range;
    }
    return step;
}

ast::Step Builder::job(P::JobStepContext* context) {
    ast::Step step;
    step.kind = ast::StepKind::Job;
    step.keyword_range = range(context->JOB());
    step.name = ident(context->ident(0));
    if (context->ASSIGN()) {
        step.target = ident(context->ident(1));
        if (context->args()) step.bind_args = args(context->args());
    }
    if (auto* params = context->jobParams()) {
        step.is_template = true;
        for (P::JobParamContext* p : params->jobParam()) {
            ast::JobParam param;
            param.range = range(p);
            param.name = ident(p->ident());
            param.type = type_ref(p->typeRef());
            if (p->expr()) param.default_value = expr(p->expr());
            step.params.push_back(std::move(param));
        }
    }
    if (context->block()) step.block = block(context->block());
    return step;
}

ast::TypeRef Builder::type_ref(P::TypeRefContext* context) {
    ast::TypeRef type;
    type.range = range(context);
    if (context == nullptr) return type;
    type.name = ident(context->ident());
    if (context->typeRef()) type.element = std::make_unique<ast::TypeRef>(type_ref(context->typeRef()));
    return type;
}

ast::BlockPtr Builder::block(P::BlockContext* context) {
    auto result = std::make_unique<ast::Block>();
    result->range = range(context);
    if (context == nullptr) {
        result->incomplete = true;
        return result;
    }
    if (context->exception != nullptr) result->incomplete = true;
    for (antlr4::tree::ParseTree* child : context->children) {
        // Error nodes come only from recovery.
        if (recovered_ && dynamic_cast<antlr4::tree::ErrorNode*>(child)) result->incomplete = true;
        if (!is_member(child)) continue;
        if (auto built = member(static_cast<P::MemberContext*>(child))) {
            result->members.push_back(std::move(*built));
        } else {
            result->incomplete = true;
        }
    }
    return result;
}

std::optional<ast::Member> Builder::member(P::MemberContext* context) {
    if (broken(context)) return std::nullopt;
    ast::Member m;
    m.range = range(context);
    if (is<P::AssignMemberContext>(context)) {
        auto* assign = static_cast<P::AssignMemberContext*>(context);
        P::MemberKeyContext* key = child<P::MemberKeyContext>(assign, is<P::MemberKeyContext>);
        if (P::IdentContext* name = child_ident(key)) {
            m.key = ident(name);
        } else {
            SourceRange where = range(key->STRING());
            std::string text;
            for (const ast::StringPart& part : decode_string_literal(file_, where.begin, where.end, diagnostics_)) {
                if (part.expr) diagnostics_.error("syntax", part.range, "a key cannot interpolate values");
                text += part.text;
            }
            m.key = {text, where};
        }
        m.value = expr(child_expr(assign));
    } else if (is<P::BlockMemberContext>(context)) {
        m.key = ident(child_ident(context));
        m.block = block(child_block(context));
    } else {
        return std::nullopt;
    }
    return m;
}

std::vector<ast::Arg> Builder::args(P::ArgsContext* context) {
    std::vector<ast::Arg> out;
    for (antlr4::tree::ParseTree* node : context->children) {
        if (!is<P::ArgContext>(node)) continue;
        auto* a = static_cast<P::ArgContext*>(node);
        ast::Arg arg;
        arg.range = range(a);
        if (P::IdentContext* name = child_ident(a)) arg.name = ident(name);
        arg.value = expr(child_expr(a));
        out.push_back(std::move(arg));
    }
    return out;
}

ast::ExprPtr Builder::expr(P::ExprContext* context) {
    if (context == nullptr || context->exception != nullptr) return error_expr(range(context));
    if (depth_ >= kMaxDepth) {
        if (!depth_reported_) {
            diagnostics_.error("syntax", range(context), "this expression is nested too deeply")
                .note("expressions may nest at most " + std::to_string(kMaxDepth) + " levels; split it with 'let'");
        }
        depth_reported_ = true;
        return error_expr(range(context));
    }
    struct Deeper {
        int& depth;
        explicit Deeper(int& d) : depth(d) { ++depth; }
        ~Deeper() { --depth; }
    } deeper(depth_);
    if (is<P::PrimaryExprContext>(context)) return primary(child<P::PrimaryContext>(context, is_primary));
    auto e = std::make_unique<ast::Expr>();
    e->range = range(context);
    if (is<P::MemberExprContext>(context)) {
        e->kind = ast::ExprKind::Member;
        e->object = expr(child_expr(context));
        e->name = ident(child_ident(context));
    } else if (is<P::NegateExprContext>(context)) {
        e->kind = ast::ExprKind::Negate;
        e->object = expr(child_expr(context));
    } else if (is<P::MultiplyExprContext>(context)) {
        auto* c = static_cast<P::MultiplyExprContext*>(context);
        e->kind = ast::ExprKind::Binary;
        e->op = c->op ? c->op->getText()[0] : '*';
        e->object = expr(child_expr(c, 0));
        e->rhs = expr(child_expr(c, 1));
    } else if (is<P::AddExprContext>(context)) {
        auto* c = static_cast<P::AddExprContext*>(context);
        e->kind = ast::ExprKind::Binary;
        e->op = c->op ? c->op->getText()[0] : '+';
        e->object = expr(child_expr(c, 0));
        e->rhs = expr(child_expr(c, 1));
    } else {
        return error_expr(e->range);
    }
    return e;
}

ast::ExprPtr Builder::primary(P::PrimaryContext* context) {
    if (context == nullptr || context->exception != nullptr) return error_expr(range(context));
    if (is<P::LiteralPrimaryContext>(context)) return literal(child<P::LiteralContext>(context, is<P::LiteralContext>));
    if (is<P::ParenPrimaryContext>(context)) {
        ast::ExprPtr inner = expr(child_expr(context));
        inner->range = range(context);
        return inner;
    }
    auto e = std::make_unique<ast::Expr>();
    e->range = range(context);
    if (is<P::NamePrimaryContext>(context)) {
        e->kind = ast::ExprKind::Name;
        e->name = ident(child_ident(context));
    } else if (is<P::CallPrimaryContext>(context)) {
        e->kind = ast::ExprKind::Call;
        e->name = ident(child_ident(context));
        if (auto* a = child<P::ArgsContext>(context, is<P::ArgsContext>)) e->args = args(a);
    } else if (is<P::ConstructPrimaryContext>(context)) {
        e->kind = ast::ExprKind::Construct;
        e->name = ident(child_ident(context));
        e->block = block(child_block(context));
    } else if (is<P::ListPrimaryContext>(context)) {
        e->kind = ast::ExprKind::List;
        for (antlr4::tree::ParseTree* item : context->children) {
            if (is_expr(item)) e->items.push_back(expr(static_cast<P::ExprContext*>(item)));
        }
    } else if (is<P::MapPrimaryContext>(context)) {
        e->kind = ast::ExprKind::Map;
        e->block = block(child_block(context));
    } else {
        e->kind = ast::ExprKind::Error;
    }
    return e;
}

ast::ExprPtr Builder::literal(P::LiteralContext* context) {
    auto e = std::make_unique<ast::Expr>();
    e->range = range(context);
    antlr4::Token* token = context->getStart();
    std::string text = token->getText();
    switch (token->getType()) {
        case P::INT: {
            e->kind = ast::ExprKind::Int;
            errno = 0;
            char* end = nullptr;
            long long value = std::strtoll(text.c_str(), &end, 10);
            if (errno == ERANGE) {
                diagnostics_.error("out-of-range", e->range, "integer " + text + " is too large")
                    .note("integers are 64-bit: at most 9223372036854775807");
            }
            e->int_value = value;
            return e;
        }
        case P::FLOAT:
            e->kind = ast::ExprKind::Float;
            e->float_value = std::strtod(text.c_str(), nullptr);
            if (!std::isfinite(e->float_value)) {  // no JSON, argument or metric can carry infinity
                diagnostics_.error("out-of-range", e->range, "float " + text + " is too large")
                    .note("floats are 64-bit: at most about 1.8e308");
            }
            return e;
        case P::DURATION: return number_with_unit(token, ast::ExprKind::Duration);
        case P::SIZE: return number_with_unit(token, ast::ExprKind::Size);
        case P::TRUE:
        case P::FALSE:
            e->kind = ast::ExprKind::Bool;
            e->bool_value = token->getType() == P::TRUE;
            return e;
        case P::UNTERMINATED_STRING:
            diagnostics_.error("syntax", e->range, "unterminated string")
                .help("close it with '\"' on the same line, or write \"\"\"...\"\"\" for text over several lines");
            return error_expr(e->range);
        case P::BAD_NUMBER: {
            size_t letters = text.find_first_not_of("0123456789.");
            diagnostics_.error("syntax", e->range, "unknown unit '" + text.substr(letters) + "' in '" + text + "'")
                .help("durations end in ms, s, m, h or d; sizes in B, KB, MB, GB, TB, KiB, MiB, GiB or TiB");
            return error_expr(e->range);
        }
        case P::STRING:
        case P::TRIPLE_STRING:
            e->kind = ast::ExprKind::String;
            e->parts = decode_string_literal(file_, e->range.begin, e->range.end, diagnostics_);
            return e;
        default:
            return error_expr(e->range);
    }
}

// `30s`, `1.5h`, `16GB`: the number scaled to milliseconds or bytes.
ast::ExprPtr Builder::number_with_unit(antlr4::Token* token, ast::ExprKind kind) {
    static const std::pair<const char*, double> kUnits[] = {
        {"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}, {"d", 86400e3},
        {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0},
        {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}};
    auto e = std::make_unique<ast::Expr>();
    e->kind = kind;
    e->range = range(token);
    std::string text = token->getText();
    size_t digits = text.find_first_not_of("0123456789.");
    double number = std::strtod(text.substr(0, digits).c_str(), nullptr);
    std::string unit = text.substr(digits);
    double scale = 1;
    for (const auto& [name, factor] : kUnits) {
        if (unit == name) scale = factor;
    }
    double value = std::round(number * scale);
    if (!(value < 9.2e18)) {
        diagnostics_.error("out-of-range", e->range, "'" + text + "' is too large");
        return error_expr(e->range);
    }
    e->int_value = static_cast<int64_t>(value);
    return e;
}

}  // namespace

struct AstBuilder::Impl {
    Builder builder;
};

AstBuilder::AstBuilder(const SourceFile& file, const OffsetMap& offsets, Diagnostics& diagnostics, bool recovered)
    : impl_(new Impl{Builder(file, offsets, diagnostics, recovered)}) {}

AstBuilder::~AstBuilder() = default;

std::vector<ast::Decl> AstBuilder::declarations(antlr4::ParserRuleContext* file_context) {
    return impl_->builder.file(static_cast<P::FileContext*>(file_context));
}

std::optional<ast::Step> AstBuilder::step(antlr4::ParserRuleContext* step_chunk_context) {
    return impl_->builder.step(static_cast<P::StepChunkContext*>(step_chunk_context)->step());
}

std::vector<ast::Decl> build_declarations(antlr4::ParserRuleContext* file_context,
                                          const SourceFile& file, const OffsetMap& offsets,
                                          Diagnostics& diagnostics, bool recovered) {
    return Builder(file, offsets, diagnostics, recovered).file(static_cast<P::FileContext*>(file_context));
}

ast::ExprPtr build_standalone_expression(antlr4::ParserRuleContext* standalone_context,
                                         const SourceFile& file, const OffsetMap& offsets,
                                         Diagnostics& diagnostics, bool recovered) {
    auto* context = static_cast<P::StandaloneExprContext*>(standalone_context);
    return Builder(file, offsets, diagnostics, recovered).expr(context->expr());
}

}  // namespace amlflow::compiler
