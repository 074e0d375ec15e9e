// What is written at a position of a parsed module: a field name, a reference, a call,
// a declaration's name... with the context hover and definition need (the block's
// schema, the enclosing declaration and step). A walk of the compiler's AST; nothing
// is parsed here.
#pragma once

#include <cstdint>
#include <optional>

#include "compiler/ast.h"
#include "compiler/checker.h"
#include "compiler/schema.h"

namespace amlflow::lsp {

struct Occurrence {
    enum class Kind {
        Field,        // the key of `key = value` or `key { ... }` in a block with a schema
        Name,         // a name in an expression: `epochs`, `here`, `random`
        Member,       // the part after a dot: `outputs` in `train.outputs`
        Call,         // a built-in's name: `loguniform(...)`
        Construct,    // `pytorch` in `distribution = pytorch { ... }`
        ComputeKind,  // `local` in `compute here : local { ... }`
        Declaration,  // the name a declaration declares: `param epochs`, `compute here`
        Step,         // the name a step declares
        JobParam,     // a job template's parameter where it is declared
        Target,       // the template a sweep or binding names: `over train`
        BindArg,      // `lr` in `job small = train(lr = 0.5)`
        SpaceKey,     // `lr` in a sweep's `space { lr = ... }`
        Base,         // a part of `environment b from curated.local_torch`
        Type,         // a param's or job parameter's type
        Import,       // an import's path
    };
    Kind kind = Kind::Name;
    compiler::SourceRange range;                    // the word under the position
    std::string word;
    const compiler::ast::Expr* expr = nullptr;      // Name, Member, Call, Construct
    const compiler::BlockSpec* block = nullptr;     // Field: its block; Construct: the construct's
    const compiler::FieldSpec* field = nullptr;     // Field; for Name/Construct: the field it is the value of
    const compiler::ast::Decl* decl = nullptr;      // the enclosing (or declared) declaration
    const compiler::ast::Step* step = nullptr;      // the enclosing (or declared) step
    const compiler::ast::JobParam* param = nullptr; // JobParam
    size_t base_index = 0;                          // Base: which part of the qualified name
};

// The innermost occurrence whose word contains `offset` (its end included, so the
// position just after a word still finds it).
std::optional<Occurrence> occurrence_at(const compiler::ast::Module& module, uint32_t offset);

// The schema of a kind of step's block: compiler/checker.h's table.
inline const compiler::BlockSpec& step_spec(compiler::ast::StepKind kind) { return compiler::step_schema(kind); }

}  // namespace amlflow::lsp
