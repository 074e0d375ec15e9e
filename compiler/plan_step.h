// A step's part of the plan that depends on the step alone: its node's spec and the
// fields its hash reads, as compact JSON text (RenderedStep). compile_file renders each
// step as soon as it is checked, so the evaluated values of a large program are never
// all held; build_plan renders those not rendered yet and adds what depends on other
// nodes (the hashes of the step's inputs, environment and source).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compiler/checked_program.h"
#include "compiler/schema.h"

namespace amlflow::compiler {

// Sets step.rendered and frees the values it was rendered from (fields, params, template).
void render_step(CheckedStep& step);

// A Map value's fields as a JSON object.
nlohmann::json fields_json(const Value& fields);

// The plan's word for a kind of step: job, sweep, register, export, download.
const char* step_kind_word(ast::StepKind kind);

// The name of the source node of a folder narrowed by `source_include`: "src" or
// "src [train.py, lib]".
std::string source_node_name(const std::string& folder, const std::vector<std::string>& include);

// Only the fields that decide a result enter a hash: a new timeout or restart budget
// reuses the result; a new argument does not. Picked from fields already rendered.
nlohmann::json hashed_fields(const nlohmann::json& rendered, const BlockSpec& spec);

// The hashed fields of a rendered spec (compact JSON text, as RenderedStep::spec): its
// members that enter the hash, as compact JSON text; what compact_json(hashed_fields(...))
// gives for the same object, without parsing it back.
std::string hashed_members(std::string_view spec, const BlockSpec& schema);

// A string as compact_json writes it. Names, ids and hashes need no escape: quoted as
// they are, without a JSON value each (a hash's keys, the JSON form's ids).
std::string quoted_json(const std::string& text);

// JSON as the plan writes it: compact, keys sorted, bad UTF-8 replaced.
std::string compact_json(const nlohmann::json& value);

}  // namespace amlflow::compiler
