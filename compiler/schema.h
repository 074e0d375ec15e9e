// What each kind of block accepts: its fields, their types, defaults and meaning.
// One table drives the checker, `docs/language.md`, and (later) the language server's
// completion and hover, so they cannot disagree.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace amlflow::compiler {

enum class FieldType {
    Any,
    Bool,
    Int,
    Float,        // an int is accepted too
    String,
    Duration,
    Size,
    Path,         // a string, a path, file(), or a step result
    StringList,
    IntList,
    List,         // of anything
    StringMap,    // map of strings (environment variables, tags)
    PathMap,      // map of paths (inputs)
    Map,
    Command,      // a string (run by a shell) or a list of strings (argv)
    Arguments,    // a list of values a script receives as argv: no references or maps
    Environment,  // a reference to an environment
    Compute,      // a reference to a compute
    Workspace,    // a reference to a workspace
    StepList,     // references to steps (`after`)
    Distribution, // none | pytorch {..} | per_node {..} | mpi {..}
    EarlyStop,    // none | bandit {..} | median {..} | truncation {..}
    Objective,    // maximize("m") | minimize("m")
    Enum,         // one of `choices`
    Gpus,         // all | none | an int | a list of device indexes
    Block,        // a nested block: `retry { ... }`
    SearchSpace,  // `space { name = choice(...) ... }`
};

struct BlockSpec;

struct FieldSpec {
    std::string_view name;
    FieldType type;
    bool required = false;
    std::string_view default_text;  // as documented; empty when there is none
    std::string_view doc;
    std::vector<std::string_view> choices = {};  // for Enum
    std::optional<double> min = std::nullopt;    // inclusive lower bound for numbers
    std::optional<double> max = std::nullopt;
    // Whether the field decides the step's result, and so enters its content hash.
    // Policies (restarts, timeouts, where it runs) don't.
    bool in_hash = true;
    const BlockSpec* nested = nullptr;  // for Block
};

struct BlockSpec {
    std::string_view name;  // "job", "compute local", "distribution pytorch", ...
    std::string_view doc;
    std::vector<FieldSpec> fields;

    const FieldSpec* find(std::string_view field) const;
};

namespace schema {
const BlockSpec& workspace();
const BlockSpec& environment();
const BlockSpec* compute(std::string_view kind);  // local | hosts | amlcompute
const BlockSpec* distribution(std::string_view kind);  // pytorch | per_node | mpi
const BlockSpec* early_stop(std::string_view kind);    // bandit | median | truncation
const BlockSpec& job();
const BlockSpec& sweep();
const BlockSpec& register_model();
const BlockSpec& export_onnx();
const BlockSpec& download();
const BlockSpec& retry();

std::vector<std::string_view> compute_kinds();
std::vector<std::string_view> distribution_kinds();
std::vector<std::string_view> early_stop_kinds();
std::vector<std::string_view> type_names();  // param types: int, float, ...
std::vector<const BlockSpec*> all_blocks();
std::string_view describe(FieldType type);  // "an int", "a duration", ...
}  // namespace schema

}  // namespace amlflow::compiler
