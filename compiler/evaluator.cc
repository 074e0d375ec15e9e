#include <algorithm>
#include "compiler/evaluator.h"

#include "compiler/home_path.h"

#include <cmath>

#include "compiler/suggest.h"

namespace amlflow::compiler {

namespace {

bool is_runtime_value(const Value& v) {
    return v.kind == ValueKind::Output || v.kind == ValueKind::Param || v.kind == ValueKind::Format;
}

}  // namespace

// Words a field accepts without quotes: `sampling = random`, `gpus = all`.
std::vector<std::string> bare_words(const FieldSpec* field) {
    std::vector<std::string> words;
    if (field == nullptr) return words;
    switch (field->type) {
        case FieldType::Enum:
            for (std::string_view c : field->choices) words.emplace_back(c);
            break;
        case FieldType::Distribution:
            for (std::string_view k : schema::distribution_kinds()) words.emplace_back(k);
            break;
        case FieldType::EarlyStop:
            for (std::string_view k : schema::early_stop_kinds()) words.emplace_back(k);
            break;
        case FieldType::Gpus: words = {"all", "none"}; break;
        default: break;
    }
    return words;
}

Value Evaluator::eval(const ast::Expr& expr, const EvalScope& scope) {
    switch (expr.kind) {
        case ast::ExprKind::Int: return Value::of_int(expr.int_value);
        case ast::ExprKind::Float: return Value::of_float(expr.float_value);
        case ast::ExprKind::Bool: return Value::of_bool(expr.bool_value);
        case ast::ExprKind::Duration: return Value::of_duration(expr.int_value);
        case ast::ExprKind::Size: return Value::of_size(expr.int_value);
        case ast::ExprKind::String: return eval_string(expr, scope);
        case ast::ExprKind::Name: return eval_name(expr, scope);
        case ast::ExprKind::Member: {
            EvalScope inner = scope;
            inner.field = nullptr;
            Value object = eval(*expr.object, inner);
            if (object.kind == ValueKind::Error) return object;
            return resolver_.member(object, expr.name, expr, scope);
        }
        case ast::ExprKind::Call: return eval_call(expr, scope);
        case ast::ExprKind::Construct: return eval_construct(expr, scope);
        case ast::ExprKind::List: {
            EvalScope inner = scope;
            inner.field = nullptr;
            std::vector<Value> items;
            for (const ast::ExprPtr& item : expr.items) items.push_back(eval(*item, inner));
            return Value::list(std::move(items));
        }
        case ast::ExprKind::Map: return eval_map(*expr.block, scope);
        case ast::ExprKind::Negate: return eval_negate(expr, scope);
        case ast::ExprKind::Binary: return eval_binary(expr, scope);
        case ast::ExprKind::Error: return Value::error();
    }
    return Value::error();
}

Value Evaluator::eval_string(const ast::Expr& expr, const EvalScope& scope) {
    EvalScope inner = scope;
    inner.field = nullptr;
    std::vector<Value> parts;
    bool runtime = false;
    std::string text;
    for (const ast::StringPart& part : expr.parts) {
        if (!part.expr) {
            text += part.text;
            continue;
        }
        Value v = eval(*part.expr, inner);
        switch (v.kind) {
            case ValueKind::Error: return v;
            case ValueKind::Output:
            case ValueKind::Param:
            case ValueKind::Format:
                runtime = true;
                if (!text.empty()) parts.push_back(Value::of_string(text));
                text.clear();
                if (v.kind == ValueKind::Format) {
                    for (Value& p : v.items) parts.push_back(std::move(p));
                } else {
                    parts.push_back(std::move(v));
                }
                break;
            case ValueKind::Ref:
            case ValueKind::Map:
            case ValueKind::Object:
            case ValueKind::Unset:
                diagnostics_.error("type", part.range, "cannot put " + describe_kind(v) + " into a string");
                return Value::error();
            default:
                text += value_to_argument(v);
        }
    }
    if (!runtime) return Value::of_string(text);
    if (!text.empty()) parts.push_back(Value::of_string(text));
    Value format;
    format.kind = ValueKind::Format;
    format.items = std::move(parts);
    return format;
}

Value Evaluator::eval_name(const ast::Expr& expr, const EvalScope& scope) {
    for (const std::string& word : bare_words(scope.field)) {
        if (word != expr.name.name) continue;
        // `distribution = pytorch` is `pytorch {}`: its required fields still apply.
        const BlockSpec* spec = schema::distribution(word);
        if (spec == nullptr) spec = schema::early_stop(word);
        if (spec == nullptr) return Value::of_enum(word);
        ast::Block empty;
        empty.range = expr.range;
        Value object = eval_block(empty, *spec, "'" + word + "'", scope, expr.range);
        object.kind = ValueKind::Object;
        object.text = word;
        return object;
    }
    return resolver_.resolve(expr.name, scope);
}

Value Evaluator::eval_map(const ast::Block& block, const EvalScope& scope) {
    EvalScope inner = scope;
    inner.field = nullptr;
    Value map;
    map.kind = ValueKind::Map;
    std::map<std::string, SourceRange> seen;
    for (const ast::Member& member : block.members) {
        const std::string& key = member.key.name;
        if (auto previous = seen.find(key); previous != seen.end()) {
            diagnostics_.error("duplicate", member.key.range, "key '" + key + "' is given twice")
                .note("first given here", previous->second);
            continue;
        }
        seen.emplace(key, member.key.range);
        // The plan's JSON marks its own encodings with '$' keys ({"$path": ...}); a user's
        // key must not be read as one.
        if (!key.empty() && key[0] == '$') {
            diagnostics_.error("map-key", member.key.range, "map key '" + key + "' starts with '$', which amlflow keeps for itself")
                .help("rename the key, e.g. '" + key.substr(1) + "'");
            continue;
        }
        Value value = member.block ? eval_map(*member.block, inner) : eval(*member.value, inner);
        map.fields.emplace_back(key, std::move(value));
    }
    return map;
}

Value Evaluator::eval_construct(const ast::Expr& expr, const EvalScope& scope) {
    const std::string& kind = expr.name.name;
    const BlockSpec* spec = schema::distribution(kind);
    if (spec == nullptr) spec = schema::early_stop(kind);
    if (spec == nullptr) {
        std::vector<std::string> kinds;
        for (std::string_view k : schema::distribution_kinds()) kinds.emplace_back(k);
        for (std::string_view k : schema::early_stop_kinds()) kinds.emplace_back(k);
        Diagnostic& d = diagnostics_.error("unknown-name", expr.name.range, "unknown kind '" + kind + "'");
        if (auto near = closest_name(kind, kinds)) d.help("did you mean '" + *near + "'?");
        else d.note("'name { ... }' builds a distribution (pytorch, per_node, mpi) or an early-stop policy (bandit, median, truncation)");
        return Value::error();
    }
    EvalScope inner = scope;
    inner.field = nullptr;
    Value fields = eval_block(*expr.block, *spec, "'" + kind + "'", inner, expr.name.range);
    Value object;
    object.kind = ValueKind::Object;
    object.text = kind;
    object.fields = std::move(fields.fields);
    return object;
}

Value Evaluator::eval_negate(const ast::Expr& expr, const EvalScope& scope) {
    Value v = eval(*expr.object, scope);
    switch (v.kind) {
        case ValueKind::Int:
            if (v.number == INT64_MIN) {
                diagnostics_.error("out-of-range", expr.range, "the result does not fit in a 64-bit int");
                return Value::error();
            }
            v.number = -v.number;
            return v;
        case ValueKind::Float: v.real = -v.real; return v;
        case ValueKind::Error: return v;
        default:
            diagnostics_.error("type", expr.range, "cannot negate " + describe_kind(v));
            return Value::error();
    }
}

Value Evaluator::join_path(const ast::Expr& expr, Value left, const Value& right) {
    const std::string& piece = right.text;
    if (!piece.empty() && piece[0] == '/') {
        diagnostics_.error("path", expr.rhs->range, "cannot join an absolute path onto another path")
            .help("write the part inside the folder: \"model.pt\"");
        return Value::error();
    }
    for (size_t start = 0; start <= piece.size();) {
        size_t end = piece.find('/', start);
        if (end == std::string::npos) end = piece.size();
        if (piece.compare(start, end - start, "..") == 0) {
            diagnostics_.error("path", expr.rhs->range, "a joined path cannot leave its folder with '..'");
            return Value::error();
        }
        start = end + 1;
    }
    std::string& base = left.text;
    if (left.kind == ValueKind::String) base = expand_home(base);  // a path from here on
    if (base.empty()) base = piece;
    else if (!piece.empty()) base += (base.back() == '/' ? "" : "/") + piece;
    if (left.kind == ValueKind::String) left.kind = ValueKind::Path;
    left.clear_digest();
    return left;
}

Value Evaluator::eval_binary(const ast::Expr& expr, const EvalScope& scope) {
    EvalScope inner = scope;
    inner.field = nullptr;
    Value a = eval(*expr.object, inner);
    Value b = eval(*expr.rhs, inner);
    if (a.kind == ValueKind::Error || b.kind == ValueKind::Error) return Value::error();
    char op = expr.op;
    auto is_text = [](const Value& v) { return v.kind == ValueKind::String || v.kind == ValueKind::Path; };
    if (op == '/' && (is_text(a) || a.kind == ValueKind::Output) && is_text(b)) return join_path(expr, a, b);
    if (op == '+' && a.kind == ValueKind::String && b.kind == ValueKind::String) {
        return Value::of_string(a.text + b.text);
    }
    if (op == '+' && a.kind == ValueKind::List && b.kind == ValueKind::List) {
        for (Value& item : b.items) a.items.push_back(std::move(item));
        return a;
    }
    if (a.is_number() && b.is_number()) {
        if ((op == '/' || op == '%') && b.as_double() == 0) {
            diagnostics_.error("type", expr.rhs->range, "division by zero");
            return Value::error();
        }
        if (a.kind == ValueKind::Int && b.kind == ValueKind::Int && op != '/') {
            int64_t x = a.number, y = b.number, r = 0;
            bool overflow = op == '+' ? __builtin_add_overflow(x, y, &r)
                          : op == '-' ? __builtin_sub_overflow(x, y, &r)
                          : op == '*' ? __builtin_mul_overflow(x, y, &r)
                          : (y == -1 ? (r = 0, false) : (r = x % y, false));
            if (overflow) {
                diagnostics_.error("out-of-range", expr.range, "the result does not fit in a 64-bit int");
                return Value::error();
            }
            return Value::of_int(r);
        }
        double x = a.as_double(), y = b.as_double();
        double r = op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : op == '/' ? x / y : std::fmod(x, y);
        if (!std::isfinite(r)) {
            diagnostics_.error("out-of-range", expr.range, "the result does not fit in a 64-bit float");
            return Value::error();
        }
        return Value::of_float(r);
    }
    bool same_unit = a.kind == b.kind && (a.kind == ValueKind::Duration || a.kind == ValueKind::Size);
    bool scaled = (a.kind == ValueKind::Duration || a.kind == ValueKind::Size) && b.kind == ValueKind::Int && op == '*';
    if ((same_unit && (op == '+' || op == '-')) || scaled) {
        int64_t r = 0;
        bool overflow = op == '+' ? __builtin_add_overflow(a.number, b.number, &r)
                      : op == '-' ? __builtin_sub_overflow(a.number, b.number, &r)
                                  : __builtin_mul_overflow(a.number, b.number, &r);
        if (overflow) {
            diagnostics_.error("out-of-range", expr.range, "the result is too large");
            return Value::error();
        }
        a.number = r;
        return a;
    }
    Diagnostic& d = diagnostics_.error("type", expr.range,
                                       "cannot apply '" + std::string(1, op) + "' to " + describe_kind(a) +
                                           " and " + describe_kind(b));
    if (is_runtime_value(a) || is_runtime_value(b)) {
        d.note("step results and job parameters are known only when the plan runs: they can be put "
               "into strings (\"${...}\"), and step results joined as paths ('/')");
    }
    return Value::error();
}

}  // namespace amlflow::compiler
