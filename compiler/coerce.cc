// Conversion of evaluated values to the type a field declares. Part of the Evaluator.
#include <algorithm>
#include "compiler/evaluator.h"

namespace amlflow::compiler {

namespace {

using T = FieldType;

bool runtime_of(const Value& v, std::initializer_list<std::string_view> types) {
    if (v.kind != ValueKind::Param && v.kind != ValueKind::Output) return false;
    for (std::string_view t : types) {
        if (v.type() == t) return true;
    }
    return false;
}

bool ref_of(const Value& v, std::string_view kind) {
    return v.kind == ValueKind::Ref && v.text.size() > kind.size() && v.text.compare(0, kind.size(), kind) == 0 &&
           v.text[kind.size()] == ':';
}

bool is_kind_of(const std::vector<std::string_view>& kinds, const std::string& word) {
    return std::find(kinds.begin(), kinds.end(), word) != kinds.end();
}

std::optional<Value> as_string(const Value& v) {
    if (v.kind == ValueKind::String || v.kind == ValueKind::Format || v.kind == ValueKind::Unset) return v;
    if (runtime_of(v, {"string", "path"})) return v;
    return std::nullopt;
}

std::optional<Value> as_path(const Value& v) {
    if (v.kind == ValueKind::Path || v.kind == ValueKind::Format || v.kind == ValueKind::Unset) return v;
    if (v.kind == ValueKind::String) return Value::of_path(v.text);
    if (runtime_of(v, {"string", "path"})) return v;
    return std::nullopt;
}

// Environment variables and tags: numbers and bools are written as text.
std::optional<Value> as_loose_string(const Value& v) {
    if (auto s = as_string(v)) return s;
    switch (v.kind) {
        case ValueKind::Int:
        case ValueKind::Float:
        case ValueKind::Bool:
        case ValueKind::Path: return Value::of_string(value_to_argument(v));
        default: return std::nullopt;
    }
}

template <typename Convert>
std::optional<Value> each_item(const Value& v, Convert convert, std::string* why) {
    if (v.kind != ValueKind::List) return std::nullopt;
    Value out = v;
    for (size_t i = 0; i < out.items.size(); ++i) {
        if (out.items[i].kind == ValueKind::Error) continue;
        auto item = convert(out.items[i]);
        if (!item) {
            *why = "a list whose item " + std::to_string(i + 1) + " is " + describe_kind(out.items[i]);
            return std::nullopt;
        }
        out.items[i] = std::move(*item);
    }
    return out;
}

template <typename Convert>
std::optional<Value> each_field(const Value& v, Convert convert, std::string* why) {
    if (v.kind != ValueKind::Map) return std::nullopt;
    Value out = v;
    for (auto& [key, item] : out.fields) {
        if (item.kind == ValueKind::Error) continue;
        auto converted = convert(item);
        if (!converted) {
            *why = "a map whose '" + key + "' is " + describe_kind(item);
            return std::nullopt;
        }
        item = std::move(*converted);
    }
    return out;
}

std::optional<Value> as_object_kind(const Value& v, const std::vector<std::string_view>& kinds) {
    if (v.kind == ValueKind::Enum && v.text == "none") return v;
    if (v.kind == ValueKind::Enum && is_kind_of(kinds, v.text)) {
        Value object;
        object.kind = ValueKind::Object;
        object.text = v.text;
        return object;
    }
    if (v.kind == ValueKind::Object && is_kind_of(kinds, v.text)) return v;
    return std::nullopt;
}

std::optional<Value> convert(const Value& v, const FieldSpec& spec, std::string* why) {
    auto single = [&](auto fn) { return fn(v); };
    switch (spec.type) {
        case T::Any:
        case T::Block:
        case T::SearchSpace: return v;
        case T::Bool: return v.kind == ValueKind::Bool || runtime_of(v, {"bool"}) ? std::optional<Value>(v) : std::nullopt;
        case T::Int: return v.kind == ValueKind::Int || runtime_of(v, {"int"}) ? std::optional<Value>(v) : std::nullopt;
        case T::Float:
            if (v.kind == ValueKind::Int) return Value::of_float(static_cast<double>(v.number));
            return v.kind == ValueKind::Float || runtime_of(v, {"float", "int"}) ? std::optional<Value>(v) : std::nullopt;
        case T::Duration: return v.kind == ValueKind::Duration || runtime_of(v, {"duration"}) ? std::optional<Value>(v) : std::nullopt;
        case T::Size: return v.kind == ValueKind::Size || runtime_of(v, {"size"}) ? std::optional<Value>(v) : std::nullopt;
        case T::String: return single(as_string);
        case T::Path: return single(as_path);
        case T::List: return v.kind == ValueKind::List ? std::optional<Value>(v) : std::nullopt;
        case T::Map: return v.kind == ValueKind::Map ? std::optional<Value>(v) : std::nullopt;
        case T::StringList: return each_item(v, as_string, why);
        case T::IntList:
            return each_item(v, [](const Value& i) { return i.kind == ValueKind::Int ? std::optional<Value>(i) : std::nullopt; }, why);
        case T::StringMap: return each_field(v, as_loose_string, why);
        case T::PathMap: return each_field(v, as_path, why);
        case T::Command:
            if (auto s = as_string(v)) return s;
            return each_item(v, as_string, why);
        case T::Arguments:
            return each_item(v, [](const Value& i) -> std::optional<Value> {
                switch (i.kind) {
                    case ValueKind::Ref: case ValueKind::Map: case ValueKind::Object:
                    case ValueKind::List: case ValueKind::Unset: case ValueKind::Null: return std::nullopt;
                    default: return i;
                }
            }, why);
        case T::Environment: return ref_of(v, "environment") ? std::optional<Value>(v) : std::nullopt;
        case T::Compute: return ref_of(v, "compute") ? std::optional<Value>(v) : std::nullopt;
        case T::Workspace: return ref_of(v, "workspace") ? std::optional<Value>(v) : std::nullopt;
        case T::StepList:
            if (ref_of(v, "step")) return Value::list({v});
            return each_item(v, [](const Value& i) { return ref_of(i, "step") ? std::optional<Value>(i) : std::nullopt; }, why);
        case T::Distribution: return as_object_kind(v, schema::distribution_kinds());
        case T::EarlyStop: return as_object_kind(v, schema::early_stop_kinds());
        case T::Objective:
            return v.kind == ValueKind::Object && (v.text == "maximize" || v.text == "minimize") ? std::optional<Value>(v) : std::nullopt;
        case T::Enum:
            if ((v.kind == ValueKind::Enum || v.kind == ValueKind::String) &&
                std::find(spec.choices.begin(), spec.choices.end(), v.text) != spec.choices.end()) {
                return Value::of_enum(v.text);
            }
            return std::nullopt;
        case T::Gpus:
            if (v.kind == ValueKind::Enum) return v;
            if (v.kind == ValueKind::Int && v.number >= 0) return v;
            return each_item(v, [](const Value& i) { return i.kind == ValueKind::Int && i.number >= 0 ? std::optional<Value>(i) : std::nullopt; }, why);
    }
    return std::nullopt;
}

}  // namespace

std::optional<Value> coerce_to_field(const Value& value, const FieldSpec& spec, std::string* why) {
    if (value.kind == ValueKind::Error) return value;
    why->clear();
    std::optional<Value> out = convert(value, spec, why);
    if (!out && why->empty()) *why = value.kind == ValueKind::Enum ? "'" + value.text + "'" : describe_kind(value);
    return out;
}

}  // namespace amlflow::compiler
