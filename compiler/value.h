// Evaluated values. The checker evaluates every field of every declaration to a Value;
// the plan graph is made of them. Values that are only known when the plan runs (a
// step's outputs, a sweep trial's parameter) are kept symbolic: Output, Param, Format.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "compiler/compact_vector.h"

namespace amlflow::compiler {

enum class ValueKind : uint8_t {
    Null,
    Bool,
    Int,
    Float,
    String,
    Duration,  // number = milliseconds
    Size,      // number = bytes
    Path,      // text = path relative to the main file's folder (or absolute); digest for file()
    List,
    Map,
    Object,    // a construct such as `pytorch { ... }`: text = its kind, fields
    Enum,      // a bare word accepted by the field, e.g. `random`, `all`, `none`
    Ref,       // a declaration: text = its id ("environment:torch", "compute:here", "step:train")
    Output,    // a step result known at run time: step, members, text = sub-path
    Param,     // a job template parameter, bound per trial/binding at run time: text = its name
    Format,    // a string that interpolates Output/Param values: items are its parts
    Unset,     // env("NAME") of an unset variable with no default: text = NAME
    Error,     // the result of an expression whose error is already reported
};

// What only a few kinds carry (a file()'s digest; an Output's step, members and type; a
// Param's type), kept apart so that the other values do not pay for it.
struct ValueDetail {
    std::string digest;                // Path from file(): its sha256
    std::string step;                  // Output
    std::vector<std::string> members;  // Output
    std::string type;                  // Param and Output: the type the value will have ("path", "float", ...)
};

// A large file's evaluated fields are held until its plan is built: a Value is kept small
// (the kind, one number, the text, and one pointer for each of its lists and its detail).
struct Value {
    ValueKind kind = ValueKind::Null;
    bool boolean = false;
    union {
        int64_t number = 0;  // Int, Duration, Size
        double real;         // Float
    };
    std::string text;
    CompactVector<Value> items;
    CompactVector<std::pair<std::string, Value>> fields;

    Value() = default;
    Value(const Value& other);
    Value(Value&& other) noexcept = default;
    Value& operator=(const Value& other);
    Value& operator=(Value&& other) noexcept = default;
    ~Value() = default;

    const std::string& digest() const { return detail_ ? detail_->digest : empty_text(); }
    const std::string& step() const { return detail_ ? detail_->step : empty_text(); }
    const std::vector<std::string>& members() const;
    const std::string& type() const { return detail_ ? detail_->type : empty_text(); }
    // The detail, made on first use: to set a digest, a step, members or a type.
    ValueDetail& detail();
    void clear_digest() { if (detail_) detail_->digest.clear(); }

    static Value null() { return {}; }
    static Value error() { Value v; v.kind = ValueKind::Error; return v; }
    static Value of_bool(bool b);
    static Value of_int(int64_t i);
    static Value of_float(double f);
    static Value of_string(std::string s);
    static Value of_duration(int64_t ms);
    static Value of_size(int64_t bytes);
    static Value of_path(std::string p, std::string digest = "");
    static Value of_enum(std::string word);
    static Value of_ref(std::string id);
    static Value list(std::vector<Value> items);

    const Value* field(std::string_view name) const;
    // Sets each of `overrides`' fields on this Map or Object, replacing same-named ones.
    void merge(const Value& overrides);
    bool is_number() const { return kind == ValueKind::Int || kind == ValueKind::Float; }
    double as_double() const { return kind == ValueKind::Int ? static_cast<double>(number) : real; }
    // Known only when the plan runs (contains Output, Param or Format).
    bool is_deferred() const;

private:
    static const std::string& empty_text();
    std::unique_ptr<ValueDetail> detail_;
};

// "an int", "a string", "a list", ... for messages.
std::string describe_kind(const Value& value);
// The value as the user would write it, for messages and `plan --format text`.
std::string show_value(const Value& value);
// The value as a string argument: what a script receives in argv.
std::string value_to_argument(const Value& value);
// The plan's JSON form of a value (see docs/plan-format.md).
nlohmann::json value_to_json(const Value& value);

}  // namespace amlflow::compiler
