// Blocks against their schema: unknown, duplicate, mistyped, out-of-range and missing
// fields. Part of the Evaluator.
#include <algorithm>
#include <map>

#include "compiler/evaluator.h"
#include "compiler/suggest.h"

namespace amlflow::compiler {

namespace {

std::string format_bound(double bound) {
    double whole = static_cast<double>(static_cast<int64_t>(bound));
    return whole == bound ? std::to_string(static_cast<int64_t>(bound)) : std::to_string(bound);
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
            value = eval_field(*member.value, *field, owner, scope);
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
        diagnostics_.error("type", expr.range, "field '" + std::string(spec.name) + "' of " + owner + " expects " +
                                                   expected + ", found " + why);
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
    if (converted->kind == ValueKind::Path && converted->digest.empty() &&
        converted->text.find("://") == std::string::npos) {
        converted->text = rebase_path(scope.module, converted->text);
    }
    if (converted->kind == ValueKind::Duration && converted->number <= 0) {
        diagnostics_.error("out-of-range", expr.range, "field '" + std::string(spec.name) + "' of " + owner +
                                                           " must be a positive duration");
        return Value::error();
    }
    return *converted;
}

Value Evaluator::eval_search_block(const ast::Block& block, const std::string& owner, const EvalScope& scope) {
    Value result;
    result.kind = ValueKind::Map;
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
