// The abstract syntax tree. Every node carries the source range it was built from.
// Nodes are plain structs owned through unique_ptr/vector; the tree is immutable once
// the AST builder returns it. Expressions use one struct with a kind tag: the language
// has few expression forms and this keeps the evaluator a single switch.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/compact_vector.h"
#include "compiler/source.h"

namespace amlflow::compiler::ast {

struct Identifier {
    std::string name;
    SourceRange range;
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;
struct Block;
using BlockPtr = std::unique_ptr<Block>;

// `name = value`, or `name { ... }` (a nested block, for example `space { ... }`).
struct Member {
    Identifier key;
    ExprPtr value;   // set for `name = value`
    BlockPtr block;  // set for `name { ... }`
    SourceRange range;
};

struct Block {
    CompactVector<Member> members;
    SourceRange range;
    // A member inside was dropped for a syntax error: the checker then does not report
    // missing fields, which would only repeat that error.
    bool incomplete = false;
};

// A piece of a string literal: literal text, or an interpolated `${expr}`.
struct StringPart {
    std::string text;
    ExprPtr expr;
    SourceRange range;
};

struct Arg {
    std::optional<Identifier> name;  // `lr = 0.1` in a call that binds by name
    ExprPtr value;
    SourceRange range;
};

enum class ExprKind : uint8_t {
    Int,
    Float,
    Bool,
    String,
    Duration,   // int_value in milliseconds
    Size,       // int_value in bytes
    Name,       // name
    Member,     // object . name
    Call,       // name ( args )
    Construct,  // name { block }, e.g. `pytorch { processes_per_node = 2 }`
    List,       // [ items ]
    Map,        // { block }
    Negate,     // - object
    Binary,     // object op rhs
    Error,      // what a syntax error left behind
};

// A large file holds hundreds of thousands of these at once, most of them literals: the
// numbers share their storage (a kind has one of them) and the lists are one pointer each.
struct Expr {
    ExprKind kind = ExprKind::Error;
    char op = 0;
    bool bool_value = false;
    SourceRange range;
    union {
        int64_t int_value = 0;  // Int, Duration, Size
        double float_value;     // Float
    };
    CompactVector<StringPart> parts;
    Identifier name;
    ExprPtr object;
    ExprPtr rhs;
    CompactVector<Arg> args;
    CompactVector<ExprPtr> items;
    BlockPtr block;
};

struct TypeRef {
    Identifier name;
    std::unique_ptr<TypeRef> element;  // list[element]
    SourceRange range;
};

struct JobParam {
    Identifier name;
    TypeRef type;
    ExprPtr default_value;
    SourceRange range;
};

enum class StepKind { Job, Sweep, Register, Export, Download };

struct Step {
    StepKind kind = StepKind::Job;
    Identifier name;
    SourceRange range;
    SourceRange keyword_range;  // `job`, `sweep`, `register model`, ...
    std::vector<JobParam> params;
    bool is_template = false;  // a job declared with a parameter list
    // `sweep NAME over TARGET`, or `job NAME = TARGET(args)`.
    std::optional<Identifier> target;
    std::vector<Arg> bind_args;
    BlockPtr block;  // may be empty for a binding with no overrides
    // `block` and `bind_args` packed into bytes (compiler/ast_pack.h) while the step waits
    // to be checked: a large file's trees then cost about its size, not 15 times it.
    // Empty when they are in place.
    std::string packed;
};

enum class DeclKind { Import, Param, Let, Workspace, Environment, Compute, Experiment };

struct Decl {
    DeclKind kind = DeclKind::Param;
    Identifier name;  // for an import: its alias (explicit or derived from the path)
    SourceRange range;
    SourceRange keyword_range;
    // import
    std::string import_path;
    SourceRange import_path_range;
    bool explicit_alias = false;
    // param
    TypeRef type;
    bool has_type = false;
    // param default, let value
    ExprPtr value;
    // environment NAME from BASE
    std::vector<Identifier> base;
    // compute NAME : KIND
    Identifier compute_kind;
    BlockPtr block;
    // experiment
    std::vector<Step> steps;
    // A syntax error broke the declaration's head: later phases stay quiet about it.
    bool broken = false;
};

struct Module {
    std::shared_ptr<const SourceFile> source;
    std::vector<Decl> decls;
};

const char* step_kind_name(StepKind kind);  // "job", "sweep", "register model", ...
const char* decl_kind_name(DeclKind kind);  // "import", "param", ...

}  // namespace amlflow::compiler::ast
