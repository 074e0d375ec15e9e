// Blocks against their schema: unknown, duplicate, mistyped, out-of-range and missing
// fields. Part of the Evaluator.
#include <algorithm>
#include <cctype>
#include <map>

#include "compiler/evaluator.h"
#include "compiler/suggest.h"

namespace amlflow::compiler {

namespace {

std::string format_bound(double bound) {
    double whole = static_cast<double>(static_cast<int64_t>(bound));
    return whole == bound ? std::to_string(static_cast<int64_t>(bound)) : std::to_string(bound);
}

// What `train.py` or `data/train` parse as: names joined by '.' and '/'.
bool is_name_chain(const ast::Expr& expr) {
    switch (expr.kind) {
        case ast::ExprKind::Name: return true;
        case ast::ExprKind::Member: return is_name_chain(*expr.object);
        case ast::ExprKind::Binary: return expr.op == '/' && is_name_chain(*expr.object) && is_name_chain(*expr.rhs);
        default: return false;
    }
}

// The names a chain starts from (`a` of `a.b`, both sides of `a / b`), and whether a
// member of it reads like a file extension (`train.py`, `conf.yaml`).
void chain_parts(const ast::Expr& expr, std::vector<std::string>& heads, bool& extension) {
    static const std::set<std::string> kExtensions = {"py", "sh", "yaml", "yml", "json", "txt", "cfg", "toml", "ini",
                                                      "pt", "pth", "ckpt", "onnx", "csv", "ipynb", "zip", "gz", "bin"};
    if (expr.kind == ast::ExprKind::Name) {
        heads.push_back(expr.name.name);
    } else if (expr.kind == ast::ExprKind::Member) {
        extension = extension || kExtensions.count(expr.name.name) > 0;
        chain_parts(*expr.object, heads, extension);
    } else if (expr.kind == ast::ExprKind::Binary) {
        chain_parts(*expr.object, heads, extension);
        chain_parts(*expr.rhs, heads, extension);
    }
}

std::vector<std::string> field_names(const BlockSpec& spec) {
    std::vector<std::string> names;
    for (const FieldSpec& field : spec.fields) names.emplace_back(field.name);
    return names;
}

}  // namespace

Value Evaluator::eval_block(const ast::Block& block, const BlockSpec& spec, const std::string& owner,
                            const EvalScope& scope, SourceRange owner_range) {
    Value result;
    result.kind = ValueKind::Map;
    result.fields.reserve(block.members.size());  // one field per member at most
    std::map<std::string, SourceRange> seen;
    for (const ast::Member& member : block.members) {
        const std::string& key = member.key.name;
        const FieldSpec* field = spec.find(key);
        if (field == nullptr) {
            blocks_with_unknown_fields_.insert(&block);
            Diagnostic& d = diagnostics_.error("unknown-field", member.key.range,
                                               "unknown field '" + key + "' in " + owner);
            if (auto near = closest_name(key, field_names(spec))) d.help("did you mean '" + *near + "'?");
            else d.note(std::string(spec.name) + " fields are: " + [&] {
                std::string all;
                for (const FieldSpec& f : spec.fields) all += (all.empty() ? "" : ", ") + std::string(f.name);
                return all;
            }());
            continue;
        }
        if (auto previous = seen.find(key); previous != seen.end()) {
            diagnostics_.error("duplicate", member.key.range, "field '" + key + "' is set twice in " + owner)
                .note("first set here", previous->second);
            continue;
        }
        seen.emplace(key, member.key.range);
        Value value;
        bool wants_block = field->type == FieldType::Block || field->type == FieldType::SearchSpace;
        const ast::Block* nested = member.block.get();
        if (!nested && wants_block && member.value && member.value->kind == ast::ExprKind::Map) {
            nested = member.value->block.get();
        }
        if (wants_block) {
            if (!nested) {
                diagnostics_.error("type", member.value->range, "'" + key + "' is a block")
                    .help("write it as '" + key + " { ... }'");
                continue;
            }
            std::string inner_owner = "'" + key + "' of " + owner;
            value = field->type == FieldType::SearchSpace
                        ? eval_search_block(*nested, inner_owner, scope)
                        : eval_block(*nested, *field->nested, inner_owner, scope, member.key.range);
        } else if (nested) {
            diagnostics_.error("type", member.key.range, "'" + key + "' is not a block")
                .help("write it as '" + key + " = " + std::string(schema::describe(field->type)) + "'");
            continue;
        } else {
            bool unquoted = unquoted_path(*member.value, *field, owner, scope, member.key.range);
            value = unquoted ? Value::error() : eval_field(*member.value, *field, owner, scope);
        }
        result.fields.emplace_back(key, std::move(value));
    }
    if (!block.incomplete && !had_unknown_field(&block)) {
        for (const FieldSpec& field : spec.fields) {
            if (field.required && seen.count(std::string(field.name)) == 0) {
                diagnostics_.error("missing-field", owner_range, owner + " is missing field '" + std::string(field.name) + "'")
                    .note("'" + std::string(field.name) + "': " + std::string(field.doc));
            }
        }
    }
    return result;
}

std::string missing_unit_help(FieldType wanted, const Value& value, std::string_view written) {
    if (!value.is_number() || written.empty() || written[0] == '-') return "";
    std::string number(written);
    if (wanted == FieldType::Duration) return "a duration needs a unit, e.g. " + number + "s (or ms, m, h, d)";
    if (wanted == FieldType::Size) return "a size needs a unit, e.g. " + number + "GB (or B, KB, MB, TB, GiB ...)";
    return "";
}

// `source = src/data`, `script = train.py`: a path written without quotes parses as names
// (and `train.py` as the result 'py' of step 'train'). One error that says so, instead of
// an unknown name or a missing step result. Left to the usual errors: a chain of known
// names with no file-like member (`prep.outputs`), a lone name close to a known one (a
// typo), and a value on a later line than its field (`script =` left empty).
bool Evaluator::unquoted_path(const ast::Expr& expr, const FieldSpec& spec, const std::string& owner,
                              const EvalScope& scope, SourceRange key) {
    if (spec.type != FieldType::Path || !is_name_chain(expr)) return false;
    std::vector<std::string> heads;
    bool extension = false;
    chain_parts(expr, heads, extension);
    bool unknown = std::any_of(heads.begin(), heads.end(), [&](const std::string& n) { return !resolver_.knows(n, scope); });
    if (!unknown && !extension) return false;
    if (expr.kind == ast::ExprKind::Name && resolver_.suggests(expr.name.name, scope)) return false;
    if (key.valid() && key.start().line != expr.range.start().line) return false;
    std::string text;
    for (char c : expr.range.text()) {
        if (!std::isspace(static_cast<unsigned char>(c))) text += c;
    }
    diagnostics_.error("type", expr.range, "field '" + std::string(spec.name) + "' of " + owner +
                                               " expects a path, found '" + text + "' without quotes")
        .help("a path is written as a string: " + std::string(spec.name) + " = \"" + text + "\"");
    return true;
}

Value Evaluator::eval_field(const ast::Expr& expr, const FieldSpec& spec, const std::string& owner,
                            const EvalScope& scope) {
    EvalScope inner = scope;
    inner.field = &spec;
    Value value = eval(expr, inner);
    if (value.kind == ValueKind::Error) return value;
    std::string why;
    std::optional<Value> converted = coerce_to_field(value, spec, &why);
    if (!converted) {
        std::string expected(schema::describe(spec.type));
        if (spec.type == FieldType::Enum) {
            expected.clear();
            for (size_t i = 0; i < spec.choices.size(); ++i) {
                expected += (i == 0 ? "" : i + 1 == spec.choices.size() ? " or " : ", ") + std::string(spec.choices[i]);
            }
            if (value.kind == ValueKind::String || value.kind == ValueKind::Enum) why = show_value(value);
        }
        Diagnostic& d = diagnostics_.error("type", expr.range, "field '" + std::string(spec.name) + "' of " + owner +
                                                                   " expects " + expected + ", found " + why);
        std::string unit = missing_unit_help(spec.type, value, expr.range.text());
        if (!unit.empty()) d.help(unit);
        return Value::error();
    }
    if (converted->is_number() && (spec.min || spec.max)) {
        double number = converted->as_double();
        bool low = spec.min && number < *spec.min;
        bool high = spec.max && number > *spec.max;
        if (low || high) {
            std::string bound = spec.min && spec.max
                ? "between " + format_bound(*spec.min) + " and " + format_bound(*spec.max)
                : low ? "at least " + format_bound(*spec.min) : "at most " + format_bound(*spec.max);
            diagnostics_.error("out-of-range", expr.range, "field '" + std::string(spec.name) + "' of " + owner +
                                                               " must be " + bound + ", not " + show_value(*converted));
            return Value::error();
        }
    }
    if (converted->kind == ValueKind::Path && converted->digest().empty() &&
        converted->text.find("://") == std::string::npos) {
        converted->text = rebase_path(scope.module, converted->text);
    }
    if (converted->kind == ValueKind::Duration && converted->number <= 0) {
        diagnostics_.error("out-of-range", expr.range, "field '" + std::string(spec.name) + "' of " + owner +
                                                           " must be a positive duration");
        return Value::error();
    }
    return std::move(*converted);
}

Value Evaluator::eval_search_block(const ast::Block& block, const std::string& owner, const EvalScope& scope) {
    Value result;
    result.kind = ValueKind::Map;
    result.fields.reserve(block.members.size());  // one field per member at most
    std::map<std::string, SourceRange> seen;
    for (const ast::Member& member : block.members) {
        const std::string& key = member.key.name;
        if (auto previous = seen.find(key); previous != seen.end()) {
            diagnostics_.error("duplicate", member.key.range, "'" + key + "' is given twice in " + owner)
                .note("first given here", previous->second);
            continue;
        }
        seen.emplace(key, member.key.range);
        if (!member.value) {
            diagnostics_.error("search-space", member.key.range, "'" + key + "' needs a search-space function")
                .help("for example '" + key + " = choice(16, 32)' or '" + key + " = uniform(0.1, 0.9)'");
            continue;
        }
        EvalScope inner = scope;
        inner.field = nullptr;
        Value value = eval(*member.value, inner);
        if (value.kind == ValueKind::Error) continue;
        static const std::vector<std::string> kSpaces = {"choice", "uniform", "loguniform", "quniform",
                                                         "qloguniform", "normal", "lognormal", "randint"};
        bool is_space = value.kind == ValueKind::Object &&
                        std::find(kSpaces.begin(), kSpaces.end(), value.text) != kSpaces.end();
        if (!is_space) {
            diagnostics_.error("search-space", member.value->range,
                               "'" + key + "' must be a search-space function, found " + describe_kind(value))
                .help("use choice(...), uniform(lo, hi), loguniform(lo, hi), quniform(lo, hi, q), "
                      "normal(mu, sigma) or randint(n)");
            continue;
        }
        result.fields.emplace_back(key, std::move(value));
    }
    return result;
}

}  // namespace amlflow::compiler
