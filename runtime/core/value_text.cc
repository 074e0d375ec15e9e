#include "runtime/core/value_text.h"

#include <filesystem>

#include "runtime/core/artifacts.h"

namespace amlflow::runtime {

using nlohmann::json;

std::optional<std::string> argument_text(const json& value, const ArgumentContext& context, std::string* error) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
    if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
    if (value.is_number_float()) return value.dump();  // the shortest text that reads back
    if (!value.is_object()) {
        *error = "a list or map cannot be an argument";
        return std::nullopt;
    }
    if (value.contains("$path")) {
        std::string path = value["$path"].get<std::string>();
        if (path.empty() || path[0] == '/' || path.find("://") != std::string::npos || context.plan_folder.empty()) {
            return path;
        }
        return (std::filesystem::path(context.plan_folder) / path).lexically_normal().string();
    }
    if (value.contains("$bytes")) return std::to_string(value["$bytes"].get<int64_t>());
    if (value.contains("$duration_ms")) {
        int64_t ms = value["$duration_ms"].get<int64_t>();
        return ms % 1000 == 0 ? std::to_string(ms / 1000) : json(static_cast<double>(ms) / 1000).dump();
    }
    if (is_output_reference(value)) {
        auto resolved = resolve_output(value, context.results, error);
        if (!resolved) return std::nullopt;
        return resolved->path.string();
    }
    if (value.contains("$format") && value["$format"].is_array()) {
        std::string text;
        for (const json& part : value["$format"]) {
            auto piece = argument_text(part, context, error);
            if (!piece) return std::nullopt;
            text += *piece;
        }
        return text;
    }
    *error = "the value " + value.dump() + " has no text form";
    return std::nullopt;
}

bool is_runtime_text(const json& value) {
    return value.is_object() && ((value.size() == 1 && value.contains("$format") && value["$format"].is_array()) ||
                                 is_output_reference(value));
}

std::optional<json> resolve_runtime_text(const json& value, const ArgumentContext& context, std::string* error) {
    if (is_runtime_text(value)) {
        auto text = argument_text(value, context, error);
        if (!text) return std::nullopt;
        return json(*text);
    }
    if (value.is_array() || value.is_object()) {
        json out = value;
        for (auto it = out.begin(); it != out.end(); ++it) {
            auto resolved = resolve_runtime_text(it.value(), context, error);
            if (!resolved) return std::nullopt;
            it.value() = std::move(*resolved);
        }
        return out;
    }
    return value;
}

std::optional<std::string> text_field(const json& spec, const char* field, const std::string& fallback,
                                      const ArgumentContext& context, std::string* error) {
    auto found = spec.find(field);
    if (found == spec.end() || found->is_null()) return fallback;
    if (!found->is_string() && !is_runtime_text(*found)) {
        *error = "'" + std::string(field) + "' should be a string, not " + found->dump();
        return std::nullopt;
    }
    std::string why;
    auto text = argument_text(*found, context, &why);
    if (!text) *error = "'" + std::string(field) + "': " + why;
    return text;
}

}  // namespace amlflow::runtime
