// What the checker hands to the plan builder: every declaration that a step uses,
// evaluated, with the source folder it needs; nothing here points into the parse tree
// except for diagnostics' sake.
#pragma once

#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "compiler/ast.h"
#include "compiler/value.h"

namespace amlflow::compiler {

struct CheckedDecl {
    std::string id;       // "environment:torch", "compute:here", "workspace:azure"
    std::string name;     // as referenced: "torch", "curated.pytorch_1_6_gpu"
    std::string subkind;  // a compute's kind: local, hosts, amlcompute
    Value fields;         // a Map of the evaluated fields
    SourceRange range;
};

// A step's part of the plan that depends on the step alone, as compact JSON text
// (plan_step.h): rendered as soon as the step is checked when a plan is wanted, so the
// evaluated values of a large program never pile up. The hash's other parts (the hashes
// of its inputs, environment and source) are added by build_plan.
struct RenderedStep {
    std::string spec;              // the node's spec, links included (its hashed fields are picked from it)
    std::string hashed_template;   // a sweep's: its template's hashed fields
    std::string template_params;   // a sweep's: its template's declared parameters
};

struct CheckedStep {
    std::string name;
    std::string experiment;
    ast::StepKind kind = ast::StepKind::Job;
    std::string template_name;   // a binding's or a sweep's job template
    Value fields;                // a Map of the evaluated fields
    Value template_fields;       // a sweep's template job, its parameters left as Param values
    std::vector<std::pair<std::string, Value>> params;  // a binding's bound parameters
    struct TemplateParam {
        std::string name, type;
        std::optional<Value> default_value;
    };
    std::vector<TemplateParam> template_params;  // a sweep's template's parameters
    std::set<std::string> data_inputs;  // steps whose results this step reads
    std::set<std::string> after;        // steps ordered before this one without data
    std::string environment_id;         // jobs, exports and sweeps
    std::string compute_id;
    std::string source_folder;          // relative to the main file's folder; jobs and sweeps
    std::vector<std::string> source_include;  // `source_include`: empty for the whole folder
    std::string download_to;  // a download's `to`, when it is a path (checked against sources)
    SourceRange range;
    // Set by render_step (plan_step.h), which frees the values above (fields, params, ...).
    // A pointer: most of a large program's steps hold one only while the plan is built.
    std::shared_ptr<RenderedStep> rendered;
};

struct CheckedProgram {
    std::string main_path;
    std::filesystem::path folder;  // the main file's folder
    std::vector<std::pair<std::string, Value>> params;
    std::vector<CheckedDecl> workspaces;
    std::vector<CheckedDecl> environments;
    std::vector<CheckedDecl> computes;
    // In file order. A deque: it grows one block at a time while the checker frees each
    // step's syntax tree, instead of holding room for all of them beside the whole tree.
    std::deque<CheckedStep> steps;
};

}  // namespace amlflow::compiler
