// Plan values as text: the one place where a value the checker accepted as a string (or
// as something with a text form) becomes the text that a script, a registry record or an
// exporter receives. Step results (`{"$output": ...}`) and interpolated strings
// (`{"$format": [...]}`) are resolved here, for a job's arguments and variables (local/)
// and for the steps that act on results (exec/: register, download, export) alike, so no
// reader ever meets an unresolved reference where it expects a string.
#pragma once

#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace amlflow::runtime {

// What a value's text depends on: finished steps' results, and the folder relative
// paths start from (the rank runs in its snapshot, not there). An empty plan_folder
// leaves relative paths as they are written.
struct ArgumentContext {
    const std::map<std::string, std::map<std::string, std::string>>& results;
    std::string plan_folder;
};

// The text of a plan value as a script receives it ("0.001", "/abs/data/x.txt"), with
// step results resolved and relative paths made absolute; nullopt with *error for what
// has no text form.
std::optional<std::string> argument_text(const nlohmann::json& value, const ArgumentContext& context,
                                         std::string* error);

// Whether a value is text to be resolved at run time: `{"$format": [...]}` or a step
// result `{"$output": ...}`.
bool is_runtime_text(const nlohmann::json& value);

// `value` with every runtime text inside it (at any depth of lists and maps) replaced by
// its resolved string; other values are kept as they are. nullopt with *error when a
// reference cannot be resolved.
std::optional<nlohmann::json> resolve_runtime_text(const nlohmann::json& value, const ArgumentContext& context,
                                                   std::string* error);

// A string field of a spec: its text, `fallback` when absent. A field that is not text
// (a number, a list) is an error naming it.
std::optional<std::string> text_field(const nlohmann::json& spec, const char* field, const std::string& fallback,
                                      const ArgumentContext& context, std::string* error);

}  // namespace amlflow::runtime
