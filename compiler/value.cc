#include "compiler/value.h"

#include "compiler/home_path.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace amlflow::compiler {

Value::Value(const Value& other)
    : kind(other.kind), boolean(other.boolean), text(other.text), items(other.items), fields(other.fields),
      detail_(other.detail_ ? std::make_unique<ValueDetail>(*other.detail_) : nullptr) {
    if (kind == ValueKind::Float) real = other.real;
    else number = other.number;
}

Value& Value::operator=(const Value& other) {
    if (this != &other) *this = Value(other);
    return *this;
}

const std::string& Value::empty_text() {
    static const std::string empty;
    return empty;
}

const std::vector<std::string>& Value::members() const {
    static const std::vector<std::string> none;
    return detail_ ? detail_->members : none;
}

ValueDetail& Value::detail() {
    if (!detail_) detail_ = std::make_unique<ValueDetail>();
    return *detail_;
}

Value Value::of_bool(bool b) { Value v; v.kind = ValueKind::Bool; v.boolean = b; return v; }
Value Value::of_int(int64_t i) { Value v; v.kind = ValueKind::Int; v.number = i; return v; }
Value Value::of_float(double f) { Value v; v.kind = ValueKind::Float; v.real = f; return v; }
Value Value::of_string(std::string s) { Value v; v.kind = ValueKind::String; v.text = std::move(s); return v; }
Value Value::of_duration(int64_t ms) { Value v; v.kind = ValueKind::Duration; v.number = ms; return v; }
Value Value::of_size(int64_t bytes) { Value v; v.kind = ValueKind::Size; v.number = bytes; return v; }
Value Value::of_enum(std::string word) { Value v; v.kind = ValueKind::Enum; v.text = std::move(word); return v; }
Value Value::of_ref(std::string id) { Value v; v.kind = ValueKind::Ref; v.text = std::move(id); return v; }

Value Value::of_path(std::string p, std::string digest) {
    Value v;
    v.kind = ValueKind::Path;
    v.text = expand_home(p);
    if (!digest.empty()) v.detail().digest = std::move(digest);
    return v;
}

Value Value::list(std::vector<Value> items) {
    Value v;
    v.kind = ValueKind::List;
    v.items = std::move(items);
    return v;
}

const Value* Value::field(std::string_view name) const {
    for (const auto& [key, value] : fields) {
        if (key == name) return &value;
    }
    return nullptr;
}

void Value::merge(const Value& overrides) {
    for (const auto& field : overrides.fields) {
        // No structured binding here: clang's C++17 cannot capture one in the lambda.
        auto found = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == field.first; });
        if (found != fields.end()) found->second = field.second;
        else fields.push_back(field);
    }
}

bool Value::is_deferred() const {
    switch (kind) {
        case ValueKind::Output:
        case ValueKind::Param:
        case ValueKind::Format: return true;
        case ValueKind::List:
            for (const Value& item : items) {
                if (item.is_deferred()) return true;
            }
            return false;
        case ValueKind::Map:
        case ValueKind::Object:
            for (const auto& [key, value] : fields) {
                if (value.is_deferred()) return true;
            }
            return false;
        default: return false;
    }
}

std::string describe_kind(const Value& value) {
    switch (value.kind) {
        case ValueKind::Null: return "nothing";
        case ValueKind::Bool: return "a bool";
        case ValueKind::Int: return "an int";
        case ValueKind::Float: return "a float";
        case ValueKind::String: return "a string";
        case ValueKind::Duration: return "a duration";
        case ValueKind::Size: return "a size";
        case ValueKind::Path: return "a path";
        case ValueKind::List: return "a list";
        case ValueKind::Map: return "a map";
        case ValueKind::Object: return "'" + value.text + " { ... }'";
        case ValueKind::Enum: return "'" + value.text + "'";
        case ValueKind::Ref: {
            if (value.text.rfind("module:", 0) == 0) return "an imported module";
            size_t colon = value.text.find(':');
            return "a reference to " + value.text.substr(0, colon) + " '" + value.text.substr(colon + 1) + "'";
        }
        case ValueKind::Output: return "a step result";
        case ValueKind::Param: return "a job parameter";
        case ValueKind::Format: return "a string";
        case ValueKind::Unset: return "an unset environment variable";
        case ValueKind::Error: return "an invalid value";
    }
    return "a value";
}

namespace {

std::string format_real(double f) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.17g", f);
    // Shortest text that reads back to the same double, so 0.001 prints as 0.001.
    for (int precision = 1; precision <= 17; ++precision) {
        char shorter[64];
        std::snprintf(shorter, sizeof shorter, "%.*g", precision, f);
        if (std::strtod(shorter, nullptr) == f) {
            std::string text = shorter;
            if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
            return text;
        }
    }
    return buffer;
}

std::string format_duration(int64_t ms) {
    static const std::pair<const char*, int64_t> kUnits[] = {
        {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    if (ms == 0) return "0s";
    for (const auto& [unit, size] : kUnits) {
        if (ms % size == 0) return std::to_string(ms / size) + unit;
    }
    return std::to_string(ms) + "ms";
}

std::string format_size(int64_t bytes) {
    static const std::pair<const char*, int64_t> kUnits[] = {
        {"TiB", 1LL << 40}, {"GiB", 1LL << 30}, {"MiB", 1LL << 20}, {"KiB", 1LL << 10},
        {"TB", 1000000000000LL}, {"GB", 1000000000}, {"MB", 1000000}, {"KB", 1000}};
    for (const auto& [unit, size] : kUnits) {
        if (bytes != 0 && bytes % size == 0) return std::to_string(bytes / size) + unit;
    }
    return std::to_string(bytes) + "B";
}

std::string output_path(const Value& value) {
    std::string out = value.step();
    for (const std::string& member : value.members()) out += "." + member;
    if (!value.text.empty()) out += " / \"" + value.text + "\"";
    return out;
}

}  // namespace

std::string show_value(const Value& value) {
    switch (value.kind) {
        case ValueKind::Null: return "none";
        case ValueKind::Bool: return value.boolean ? "true" : "false";
        case ValueKind::Int: return std::to_string(value.number);
        case ValueKind::Float: return format_real(value.real);
        case ValueKind::String: return nlohmann::json(value.text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        case ValueKind::Duration: return format_duration(value.number);
        case ValueKind::Size: return format_size(value.number);
        case ValueKind::Path: return nlohmann::json(value.text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        case ValueKind::Enum: return value.text;
        case ValueKind::Ref: return value.text.substr(value.text.find(':') + 1);
        case ValueKind::Output: return output_path(value);
        case ValueKind::Param: return value.text;
        case ValueKind::Unset: return "env(\"" + value.text + "\")";
        case ValueKind::Error: return "<error>";
        case ValueKind::Format: {
            std::string out = "\"";
            for (const Value& part : value.items) {
                out += part.kind == ValueKind::String ? part.text : "${" + show_value(part) + "}";
            }
            return out + "\"";
        }
        case ValueKind::List: {
            std::string out = "[";
            for (size_t i = 0; i < value.items.size(); ++i) out += (i ? ", " : "") + show_value(value.items[i]);
            return out + "]";
        }
        case ValueKind::Map:
        case ValueKind::Object: {
            std::string out = value.kind == ValueKind::Object ? value.text + " { " : "{ ";
            for (size_t i = 0; i < value.fields.size(); ++i) {
                out += (i ? ", " : "") + value.fields[i].first + " = " + show_value(value.fields[i].second);
            }
            return out + (value.fields.empty() ? "}" : " }");
        }
    }
    return "?";
}

std::string value_to_argument(const Value& value) {
    switch (value.kind) {
        case ValueKind::String:
        case ValueKind::Path: return value.text;
        case ValueKind::Duration: return std::to_string(value.number / 1000);  // seconds
        case ValueKind::Size: return std::to_string(value.number);
        default: return show_value(value);
    }
}

nlohmann::json value_to_json(const Value& value) {
    using nlohmann::json;
    switch (value.kind) {
        case ValueKind::Null:
        case ValueKind::Error: return nullptr;
        case ValueKind::Bool: return value.boolean;
        case ValueKind::Int: return value.number;
        case ValueKind::Float: return value.real;
        case ValueKind::String: return value.text;
        case ValueKind::Enum: return value.text;
        case ValueKind::Duration: return {{"$duration_ms", value.number}};
        case ValueKind::Size: return {{"$bytes", value.number}};
        case ValueKind::Path: {
            json out = {{"$path", value.text}};
            if (!value.digest().empty()) out["sha256"] = value.digest();
            return out;
        }
        case ValueKind::Ref: return {{"$ref", value.text}};
        case ValueKind::Param: return {{"$param", value.text}};
        case ValueKind::Unset: return {{"$unset_env", value.text}};
        case ValueKind::Output:
            return {{"$output", {{"step", value.step()}, {"result", value.members()}, {"path", value.text}}}};
        case ValueKind::Format: {
            json parts = json::array();
            for (const Value& part : value.items) parts.push_back(value_to_json(part));
            return {{"$format", parts}};
        }
        case ValueKind::List: {
            json out = json::array();
            for (const Value& item : value.items) out.push_back(value_to_json(item));
            return out;
        }
        case ValueKind::Map:
        case ValueKind::Object: {
            json out = json::object();
            if (value.kind == ValueKind::Object) out["$kind"] = value.text;
            for (const auto& [key, item] : value.fields) out[key] = value_to_json(item);
            return out;
        }
    }
    return nullptr;
}

}  // namespace amlflow::compiler
