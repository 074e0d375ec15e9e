// Evaluates expressions and blocks to Values. Names are looked up through a
// NameResolver (the checker, which knows the declarations); fields are checked against
// the schema as blocks are evaluated, so every error is reported where it was written.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "compiler/ast.h"
#include "compiler/diagnostics.h"
#include "compiler/schema.h"
#include "compiler/value.h"

namespace amlflow::compiler {

// Where an expression is evaluated.
struct EvalScope {
    size_t module = 0;
    // Names visible before the module's own: a job template's parameters.
    const std::vector<std::pair<std::string, Value>>* locals = nullptr;
    // The field being evaluated: bare words it accepts (`random`, `all`) are not names.
    const FieldSpec* field = nullptr;
    // Steps this expression refers to, collected as the plan's edges.
    std::set<std::string>* referenced_steps = nullptr;
    // env("X") of an unset X with no default: a warning in a workspace (only needed to
    // reach Azure ML), an error everywhere else.
    bool unset_env_is_warning = false;
};

// Words a field accepts without quotes (`random`, `all`, `pytorch`): not names.
std::vector<std::string> bare_words(const FieldSpec* field);

class NameResolver {
public:
    virtual ~NameResolver() = default;
    virtual Value resolve(const ast::Identifier& name, const EvalScope& scope) = 0;
    virtual Value member(const Value& object, const ast::Identifier& name, const ast::Expr& whole,
                         const EvalScope& scope) = 0;
    virtual const std::filesystem::path& folder_of(size_t module) const = 0;
    // Whether `name` means something where `scope` evaluates (a parameter, a declaration,
    // a step, a bare word); asks without reporting anything.
    virtual bool knows(const std::string& name, const EvalScope& scope) const = 0;
    // Whether an unknown `name` is close to one visible there (a "did you mean").
    virtual bool suggests(const std::string& name, const EvalScope& scope) const = 0;
};

class Evaluator {
public:
    Evaluator(NameResolver& resolver, Diagnostics& diagnostics)
        : resolver_(resolver), diagnostics_(diagnostics) {}

    Value eval(const ast::Expr& expr, const EvalScope& scope);

    // Evaluates a block's members against `spec` into a Map: unknown, duplicate and
    // mistyped fields are reported; `owner` names the block in messages ("job 'train'").
    // Required fields are checked unless the block is incomplete after a syntax error.
    Value eval_block(const ast::Block& block, const BlockSpec& spec, const std::string& owner,
                     const EvalScope& scope, SourceRange owner_range);

    // Evaluates one field's value and converts it to the field's type (an int where a
    // float is wanted, a string where a path is); reports a mismatch and returns Error.
    Value eval_field(const ast::Expr& expr, const FieldSpec& spec, const std::string& owner,
                     const EvalScope& scope);

    Diagnostics& diagnostics() { return diagnostics_; }

    // Whether a block had a field the schema does not know (most likely a misspelt one):
    // its required-field checks are then not reported, they would repeat the typo.
    bool had_unknown_field(const ast::Block* block) const { return blocks_with_unknown_fields_.count(block) > 0; }
    // Once the blocks evaluated so far are freed (a checked step's tree): a new block at
    // one's address must not seem to have had an unknown field.
    void forget_unknown_fields() { blocks_with_unknown_fields_.clear(); }

    // A path written in `module`, made relative to the main file's folder (the one
    // convention of paths in the plan).
    std::string rebase_path(size_t module, const std::string& path) const;

private:
    Value eval_string(const ast::Expr& expr, const EvalScope& scope);
    Value eval_name(const ast::Expr& expr, const EvalScope& scope);
    Value eval_construct(const ast::Expr& expr, const EvalScope& scope);
    Value eval_map(const ast::Block& block, const EvalScope& scope);
    Value eval_negate(const ast::Expr& expr, const EvalScope& scope);
    Value eval_binary(const ast::Expr& expr, const EvalScope& scope);
    Value join_path(const ast::Expr& expr, Value left, const Value& right);
    Value eval_call(const ast::Expr& expr, const EvalScope& scope);
    Value eval_search_space(const ast::Expr& expr, const std::vector<Value>& args);
    Value eval_search_block(const ast::Block& block, const std::string& owner, const EvalScope& scope);
    bool unquoted_path(const ast::Expr& expr, const FieldSpec& spec, const std::string& owner, const EvalScope& scope,
                       SourceRange key);

    NameResolver& resolver_;
    Diagnostics& diagnostics_;
    std::set<const ast::Block*> blocks_with_unknown_fields_;
};

// `timeout = 300`: the help for a number given where a duration or a size is wanted
// ("a duration needs a unit, e.g. 300s"), or "" when that is not the mistake.
std::string missing_unit_help(FieldType wanted, const Value& value, std::string_view written);

// Converts `value` to `spec`'s type, or explains why it can't ("expected an int, found a
// string"). Values known only at run time pass where their type can be right.
std::optional<Value> coerce_to_field(const Value& value, const FieldSpec& spec, std::string* why);

}  // namespace amlflow::compiler
