// Where the cursor is, for completion, read from tokens and brace nesting alone: which
// block encloses it (by block kind and, for a compute, distribution or early stop, its
// sub-kind), which fields that block already has, and whether a field name, a value, a
// member after `x.`, a type or a compute kind is expected. Tokens rather than the AST
// because the text being typed rarely parses; the lexer accepts anything.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/schema.h"

namespace amlflow::lsp {

struct CompletionContext {
    enum class Where {
        None,         // inside a comment or a string, or nowhere completion helps
        Key,          // a field name, a declaration or a step keyword
        Value,        // the value of `field` (or of a param, a let, a list item, an argument)
        Member,       // after `chain.`
        Type,         // after `param x:` or a job parameter's `:`
        ComputeKind,  // after `compute x :`
        Template,     // after `sweep x over` or `job x =`: a job template's name
        Base,         // after `environment x from`
    };
    enum class Block {
        TopLevel,     // between declarations
        Experiment,   // between steps
        Fields,       // a block with a schema: `spec`
        SearchSpace,  // a sweep's `space { ... }`
        Other,        // a map, an unknown construct, a list, an argument list
    };
    Where where = Where::None;
    Block block = Block::TopLevel;
    const compiler::BlockSpec* spec = nullptr;
    const compiler::FieldSpec* field = nullptr;  // Value: the field being given a value
    std::set<std::string> written;               // Key: fields the block already has
    std::vector<std::string> chain;              // Member: the names before the dot
    std::string step;                            // the enclosing step's name
    std::string step_target;                     // its template (`sweep s over t`, `job b = t(...)`)
    std::string prefix;                          // the part of a word typed before the cursor
    uint32_t prefix_begin = 0;
};

CompletionContext completion_context(std::string_view text, uint32_t offset);

}  // namespace amlflow::lsp
