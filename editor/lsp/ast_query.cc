#include "editor/lsp/ast_query.h"

namespace amlflow::lsp {

namespace ast = compiler::ast;
namespace schema = compiler::schema;
using Kind = Occurrence::Kind;

namespace {

class Finder {
public:
    explicit Finder(uint32_t offset) : offset_(offset) {}

    void module(const ast::Module& module) {
        for (const ast::Decl& decl : module.decls) this->decl(decl);
    }
    std::optional<Occurrence> found;

private:
    bool hits(const compiler::SourceRange& range) const {
        return range.valid() && range.begin <= offset_ && offset_ <= range.end;
    }

    // Records a hit; a later (inner) hit replaces an earlier one.
    Occurrence* hit(Kind kind, const ast::Identifier& name) {
        if (!hits(name.range) || name.name.empty()) return nullptr;
        Occurrence o;
        o.kind = kind;
        o.range = name.range;
        o.word = name.name;
        o.decl = decl_;
        o.step = step_;
        found = o;
        return &*found;
    }

    void decl(const ast::Decl& decl) {
        decl_ = &decl;
        step_ = nullptr;
        if (decl.kind == ast::DeclKind::Import) {
            if (hits(decl.import_path_range) || hits(decl.name.range)) hit(Kind::Import, decl.name);
            return;
        }
        hit(Kind::Declaration, decl.name);
        if (decl.kind == ast::DeclKind::Param && decl.has_type) type(decl.type);
        if (decl.value) expr(*decl.value, nullptr);
        for (size_t i = 0; i < decl.base.size(); ++i) {
            if (Occurrence* o = hit(Kind::Base, decl.base[i])) o->base_index = i;
        }
        const compiler::BlockSpec* spec = nullptr;
        switch (decl.kind) {
            case ast::DeclKind::Workspace: spec = &schema::workspace(); break;
            case ast::DeclKind::Environment: spec = &schema::environment(); break;
            case ast::DeclKind::Compute:
                spec = schema::compute(decl.compute_kind.name);
                hit(Kind::ComputeKind, decl.compute_kind);
                break;
            default: break;
        }
        if (decl.block) block(*decl.block, spec);
        for (const ast::Step& s : decl.steps) step(s);
    }

    void step(const ast::Step& step) {
        step_ = &step;
        hit(Kind::Step, step.name);
        for (const ast::JobParam& param : step.params) {
            if (Occurrence* o = hit(Kind::JobParam, param.name)) o->param = &param;
            type(param.type);
            if (param.default_value) expr(*param.default_value, nullptr);
        }
        if (step.target) hit(Kind::Target, *step.target);
        for (const ast::Arg& arg : step.bind_args) {
            if (arg.name) hit(Kind::BindArg, *arg.name);
            if (arg.value) expr(*arg.value, nullptr);
        }
        if (step.block) block(*step.block, &step_spec(step.kind));
    }

    void type(const ast::TypeRef& type) {
        hit(Kind::Type, type.name);
        if (type.element) this->type(*type.element);
    }

    void block(const ast::Block& block, const compiler::BlockSpec* spec) {
        for (const ast::Member& member : block.members) {
            const compiler::FieldSpec* field = spec ? spec->find(member.key.name) : nullptr;
            if (spec) {
                if (Occurrence* o = hit(Kind::Field, member.key)) {
                    o->block = spec;
                    o->field = field;
                }
            }
            if (member.value) expr(*member.value, field);
            if (member.block) {
                bool space = field && field->type == compiler::FieldType::SearchSpace;
                if (space) search_space(*member.block);
                else this->block(*member.block, field ? field->nested : nullptr);
            }
        }
    }

    void search_space(const ast::Block& block) {
        for (const ast::Member& member : block.members) {
            hit(Kind::SpaceKey, member.key);
            if (member.value) expr(*member.value, nullptr);
        }
    }

    void expr(const ast::Expr& e, const compiler::FieldSpec* field) {
        switch (e.kind) {
            case ast::ExprKind::Name:
                if (Occurrence* o = hit(Kind::Name, e.name)) {
                    o->expr = &e;
                    o->field = field;
                }
                break;
            case ast::ExprKind::Member:
                if (e.object) expr(*e.object, nullptr);
                if (Occurrence* o = hit(Kind::Member, e.name)) o->expr = &e;
                break;
            case ast::ExprKind::Call:
                if (Occurrence* o = hit(Kind::Call, e.name)) o->expr = &e;
                for (const ast::Arg& arg : e.args) {
                    if (arg.value) expr(*arg.value, nullptr);
                }
                break;
            case ast::ExprKind::Construct: construct(e, field); break;
            case ast::ExprKind::List:
                for (const ast::ExprPtr& item : e.items) {
                    if (item) expr(*item, field && field->type == compiler::FieldType::StepList ? field : nullptr);
                }
                break;
            case ast::ExprKind::Map:
                if (e.block) block(*e.block, nullptr);
                break;
            case ast::ExprKind::Negate:
            case ast::ExprKind::Binary:
                if (e.object) expr(*e.object, nullptr);
                if (e.rhs) expr(*e.rhs, nullptr);
                break;
            case ast::ExprKind::String:
                for (const ast::StringPart& part : e.parts) {
                    if (part.expr) expr(*part.expr, nullptr);
                }
                break;
            default: break;
        }
    }

    void construct(const ast::Expr& e, const compiler::FieldSpec* field) {
        const compiler::BlockSpec* spec = nullptr;
        if (field && field->type == compiler::FieldType::Distribution) spec = schema::distribution(e.name.name);
        if (field && field->type == compiler::FieldType::EarlyStop) spec = schema::early_stop(e.name.name);
        if (Occurrence* o = hit(Kind::Construct, e.name)) {
            o->expr = &e;
            o->block = spec;
            o->field = field;
        }
        if (e.block) block(*e.block, spec);
    }

    uint32_t offset_;
    const ast::Decl* decl_ = nullptr;
    const ast::Step* step_ = nullptr;
};

}  // namespace

std::optional<Occurrence> occurrence_at(const ast::Module& module, uint32_t offset) {
    Finder finder(offset);
    finder.module(module);
    return finder.found;
}

}  // namespace amlflow::lsp
